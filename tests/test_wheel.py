"""OTB Billing as a user installs it: a wheel built from the sources, installed in a fresh virtualenv outside the
repo, then `otb init`, a bill, the HTML view, finalize and the emails of the new repo, all from the wheel alone.

The first version shipped a wheel without its templates: `otb show --html` and `otb email` died with
TemplateNotFound. Nothing here can see the checkout: the commands run from a folder outside it, without
PYTHONPATH, and the test checks where the package was imported from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(*args, cwd: Path, env=None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a new virtualenv with only the wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "otb_billing", source / "otb_billing",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = work / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source, cwd=work)
    wheels = list(dist.glob("otb_billing-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheels[0], cwd=work)
    return venv / "bin"


def test_the_wheel_carries_its_templates_and_bills_from_a_new_repo(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = _run(installed / "python", "-c", "import otb_billing.render.templates as t; print(t.DEFAULTS)",
                 cwd=tmp_path, env=env).strip()
    assert str(installed.parent) in where and str(REPO) not in where
    assert sorted(p.relative_to(where).as_posix() for p in Path(where).rglob("*.j2")) == [
        "email/fr/invoice_body.txt.j2", "email/fr/invoice_subject.txt.j2", "email/fr/reminder_body.txt.j2",
        "email/fr/reminder_subject.txt.j2", "email/invoice_body.txt.j2", "email/invoice_subject.txt.j2",
        "email/reminder_body.txt.j2", "email/reminder_subject.txt.j2", "invoice.html.j2"]
    profiles = _run(installed / "python", "-c", "from otb_billing.readers.profiles import shipped_profiles as s; "
                    "print(' '.join(s()))", cwd=tmp_path, env=env).split()
    assert "datto-rmm-devices" in profiles and len(profiles) == 6
    otb = installed / "otb"
    _run(otb, "init", "books", "--name", "Wheel MSP", cwd=tmp_path, env=env)
    repo = tmp_path / "books"
    assert (repo / "templates" / "invoice.html.j2").is_file()
    assert (repo / "templates" / "email" / "invoice_body.txt.j2").is_file()
    shutil.rmtree(repo / "templates")  # from here on only the wheel's own templates can be used
    (repo / "exports" / "2024-10").mkdir(parents=True)
    (repo / "exports" / "2024-10" / "users.csv").write_text("account,user_id,name\n100001,u1,Ann\n100001,u2,Bob\n")
    out = _run(otb, "bill", "2024-10", "--root", repo, cwd=tmp_path, env=env)
    assert "100001-202410" in out and "$30.00" in out  # 2 users x 15.00, no tax registration in a new repo
    html = _run(otb, "show", "100001-202410", "--html", "--root", repo, cwd=tmp_path, env=env)
    assert "<html" in html.lower() and "100001-202410" in html and "$30.00" in html
    _run(otb, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z", "--root", repo, cwd=tmp_path, env=env)
    _run(otb, "email", "2024-10", "--dry-run", "--at", "2024-11-02T12:00:00Z", "--root", repo, cwd=tmp_path,
         env=env)
    message = (repo / "build" / "outbox" / "100001-202410-invoice.eml").read_text()
    assert "Subject:" in message and "100001-202410.pdf" in message
    _run(otb, "remind", "--as-of", "2025-01-15", "--dry-run", "--at", "2025-01-15T12:00:00Z", "--root", repo,
         cwd=tmp_path, env=env)
    assert (repo / "build" / "outbox" / "100001-reminder.eml").is_file()
    _run(installed / "bean-check", repo / "ledger" / "main.beancount", cwd=tmp_path, env=env)
