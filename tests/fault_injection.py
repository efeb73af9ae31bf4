"""Kill every ledger-changing command at each of its durable writes, and at random, then run it again.

For each scenario (a repo state and one `otb` command) the harness:
1. runs the command undisturbed and keeps the result (every file of the repo) as the reference, counting the
   fault points it passes (each fsync, replace and unlink, see otb_billing/faults.py);
2. for every point N: restores the state, runs the command with OTB_FAULT_AT=N (it SIGKILLs itself there),
   then runs it again undisturbed, and checks that
   - the second run succeeds, and the repo is byte for byte the reference (ledger, documents, build/);
   - the ledger passes bean-check (with the plugin);
   - no finalized invoice or credit note text changed;
   - no temp file is left anywhere (no *.tmp, no .otb/txn, .otb/shadow, nothing in .otb/tmp);
3. does the same with kills from outside at a random moment of the run.

Runs are forked from this process (everything already imported), so a run costs only its own work.
`python tests/fault_injection.py [--random 250] [--seed 7]` prints the figures; tests/test_crash.py runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from beancount import loader  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from conftest import example_repo  # noqa: E402

from otb_billing import faults  # noqa: E402
from otb_billing.books.invoice_files import split_blocks  # noqa: E402
from otb_billing.cli import main  # noqa: E402

AT = "--at"
BANK_CSV = """date,amount,description,reference
2024-11-12,1203.30,Deposit STARK INDUSTRIES 555123-202409,BNK-1
2024-11-13,500.00,ACME CORPORATION EFT,BNK-2
2024-11-14,77.00,Unknown sender,BNK-3
"""


def _cli(root: Path, *args: str) -> None:
    result = CliRunner().invoke(main, [*args, "--root", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)


@dataclass
class Scenario:
    name: str
    state: Path  # the repo before the command
    args: tuple[str, ...]


def build_scenarios(work: Path, smtp_port: int | None) -> list[Scenario]:
    """Repo states made with the commands a billing admin types, and the command to kill in each."""
    before_october = example_repo(work / "states" / "before-october")
    (before_october / "ledger/invoices/2024/2024-10.beancount").unlink()
    main_file = before_october / "ledger/main.beancount"
    main_file.write_text(main_file.read_text().replace('include "invoices/2024/2024-10.beancount"\n', ""))
    billed = example_repo(work / "states" / "billed")  # the shipped example: October billed, not finalized
    issued = work / "states" / "issued"
    shutil.copytree(billed, issued)
    _cli(issued, "finalize", "2024-10", AT, "2024-11-01T13:00:00Z")
    usd_early = work / "states" / "usd-paid-before-finalize"
    shutil.copytree(billed, usd_early)
    _cli(usd_early, "pay", "NWT-310", "500.00", "--date", "2024-10-20", "--rate", "1.3800", "--ref", "W1")
    adjusted = work / "states" / "more-users"
    shutil.copytree(issued, adjusted)
    users = adjusted / "exports/2024-10/users.csv"
    users.write_text(users.read_text() + "620547,A-9901,Late Hire,late@acme.example,true\n")
    (issued / "bank.csv").write_text(BANK_CSV)
    mail = work / "states" / "mail"
    shutil.copytree(issued, mail)
    if smtp_port:
        settings = mail / "settings.yaml"
        text = settings.read_text()
        text = text.replace("  host: smtp.example.org\n  port: 587\n  security: starttls ",
                            f"  host: 127.0.0.1\n  port: {smtp_port}\n  security: none     ")
        settings.write_text(text.replace("  username: billing@example.org\n", ""))
    scenarios = [
        Scenario("bill", before_october, ("bill", "2024-10")),
        Scenario("finalize", billed, ("finalize", "2024-10", AT, "2024-11-01T13:00:00Z")),
        Scenario("finalize-usd-credit", usd_early, ("finalize", "2024-10", AT, "2024-11-01T13:00:00Z")),
        Scenario("pay", issued, ("pay", "620547", "1000.00", "--date", "2024-11-20")),
        Scenario("pay-usd", issued, ("pay", "NWT-310", "1500.00", "--date", "2024-11-18", "--rate", "1.3900",
                                     "--ref", "WIRE-7001")),
        Scenario("pay-new-year", issued, ("pay", "987654", "500.00", "--date", "2025-01-06", "--ref", "EFT-2025")),
        Scenario("reverse", issued, ("pay", "--reverse", "EFT-90112", "--date", "2024-11-02", "--note", "recalled")),
        Scenario("credit", issued, ("credit", "555123-202408", "--amount", "100.00", "--reason", "SLA",
                                    "--date", "2024-11-20", AT, "2024-11-20T15:00:00Z")),
        Scenario("credit-usd", issued, ("credit", "NWT-310-202409", "--amount", "100.00", "--reason", "SLA",
                                        "--date", "2024-11-21", AT, "2024-11-21T15:00:00Z")),
        Scenario("credit-new-year", issued, ("credit", "620547-202410", "--amount", "50.00", "--reason", "Goodwill",
                                             "--date", "2025-01-10", AT, "2025-01-10T15:00:00Z")),
        Scenario("import-payments", issued, ("import-payments", "BANK", "--apply")),
        Scenario("adjust", adjusted, ("bill", "2024-10", "--adjust", "620547", "--date", "2024-11-15")),
    ]
    if smtp_port:
        scenarios.append(Scenario("email", mail, ("email", "2024-10", AT, "2024-11-02T14:00:00Z")))
    return scenarios


# --- running otb in a forked child -------------------------------------------------------------------------------


def run_forked(root: Path, args: tuple[str, ...], fault_at: int | None = None, log: Path | None = None,
               kill_after: float | None = None) -> tuple[str, int, str]:
    """("exit", code, output) or ("killed", 9, output): otb run in a child process forked from this one."""
    args = tuple(str(root / "bank.csv") if a == "BANK" else a for a in args)
    out = Path(tempfile.mkstemp(prefix="otb-run-", suffix=".out")[1])
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.environ.pop("OTB_FAULT_AT", None)
            os.environ.pop("OTB_FAULT_LOG", None)
            if fault_at is not None:
                os.environ["OTB_FAULT_AT"] = str(fault_at)
            if log is not None:
                os.environ["OTB_FAULT_LOG"] = str(log)
            faults.reset()
            fd = os.open(out, os.O_WRONLY | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            try:
                main.main(args=[*args, "--root", str(root)], prog_name="otb", standalone_mode=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 99
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    status = None
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            done, waited = os.waitpid(pid, os.WNOHANG)
            if done:
                status = waited
                break
            time.sleep(0.0005)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if status is None:
        _, status = os.waitpid(pid, 0)
    output = out.read_text(errors="replace")
    out.unlink()
    if os.WIFSIGNALED(status):
        return "killed", os.WTERMSIG(status), output
    return "exit", os.WEXITSTATUS(status), output


# --- what is checked -----------------------------------------------------------------------------------------------

IGNORED = {".otb.lock", ".main.beancount.picklecache", "bank.csv"}


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the repo except otb's own working state (.otb/) and the lock."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] != ".otb" and path.name not in IGNORED:
            files[relative.as_posix()] = path.read_bytes()
    return files


def temp_files(root: Path) -> list[str]:
    found = [p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.is_file() and (p.name.endswith((".tmp", ".otb-tmp")) or ".otb/tmp/" in p.as_posix())]
    for scratch in ("txn", "shadow"):
        if (root / ".otb" / scratch).exists():
            found.append(f".otb/{scratch}")
    return found


def finalized_texts(root: Path) -> set[str]:
    """The text of every issued invoice and credit note in the ledger."""
    texts = set()
    for path in sorted((root / "ledger").rglob("*.beancount")):
        for _, (flag, text) in split_blocks(path.read_text(encoding="utf-8"))[1].items():
            if flag == "*" and "digest:" in text:
                texts.add(text)
    return texts


def bean_check(root: Path) -> list[str]:
    _, errors, _ = loader.load_file(str(root / "ledger" / "main.beancount"))
    return [f"{e.source.get('filename')}:{e.source.get('lineno')}: {e.message}" for e in errors]


@dataclass
class Figures:
    kills: int = 0
    at_points: int = 0
    at_random: int = 0
    completed: int = 0  # the kill came after the commit point: the next run finished the change
    undone: int = 0  # the kill came before it: nothing had changed
    raw_valid: int = 0  # the killed state passed bean-check even before the next run recovered it
    failures: list[str] = field(default_factory=list)
    points: dict[str, int] = field(default_factory=dict)


def _check_after(scenario: Scenario, work: Path, reference: dict[str, bytes], sealed: set[str], how: str,
                 figures: Figures, killed: bool = True) -> None:
    pending = (work / ".otb" / "txn" / "journal.json").exists()
    if killed and not bean_check(work):
        figures.raw_valid += 1
    kind, code, output = run_forked(work, scenario.args)
    label = f"{scenario.name} {how}"
    if kind != "exit" or code != 0:
        figures.failures.append(f"{label}: the run after the kill failed ({kind} {code}): {output[-800:]}")
        return
    if killed:
        if pending:
            figures.completed += 1
        else:
            figures.undone += 1
    problems = []
    if tree(work) != reference:
        now = tree(work)
        diff = sorted(k for k in set(now) | set(reference) if now.get(k) != reference.get(k))
        problems.append(f"files differ from the uninterrupted run: {diff[:6]}")
    if errors := bean_check(work):
        problems.append(f"bean-check: {errors[:3]}")
    if lost := sealed - finalized_texts(work):
        problems.append(f"{len(lost)} finalized text(s) changed")
    if leftovers := temp_files(work):
        problems.append(f"temp files left: {leftovers[:5]}")
    figures.failures += [f"{label}: {p}" for p in problems]


def run_scenario(scenario: Scenario, work_root: Path, figures: Figures, rng: random.Random, randoms: int,
                 every_point: bool = True) -> None:
    reference_dir = work_root / f"{scenario.name}-reference"
    shutil.copytree(scenario.state, reference_dir)
    log = work_root / f"{scenario.name}.points"
    started = time.monotonic()
    kind, code, output = run_forked(reference_dir, scenario.args, log=log)
    duration = time.monotonic() - started
    assert (kind, code) == ("exit", 0), f"{scenario.name}: the undisturbed run failed: {output}"
    reference = tree(reference_dir)
    sealed = finalized_texts(scenario.state)
    points = len(log.read_text().splitlines()) if log.exists() else 0
    figures.points[scenario.name] = points
    work = work_root / f"{scenario.name}-work"
    for n in range(1, points + 1 if every_point else 1):
        fresh_copy(scenario.state, work)
        kind, _, output = run_forked(work, scenario.args, fault_at=n)
        if kind != "killed":
            figures.failures.append(f"{scenario.name} point {n}: not reached ({output[-300:]})")
            continue
        figures.at_points += 1
        figures.kills += 1
        _check_after(scenario, work, reference, sealed, f"point {n}", figures)
    # random moments: a run that finishes before its kill is checked too, and the window shrinks until `randoms`
    # runs were really killed (how long a run takes depends on what else the machine is doing)
    window, killed, attempts = duration * 1.1, 0, 0
    while killed < randoms and attempts < randoms * 4:
        attempts += 1
        value = rng.uniform(0, window)
        fresh_copy(scenario.state, work)
        kind, _, _ = run_forked(work, scenario.args, kill_after=value)
        if kind != "killed":
            _check_after(scenario, work, reference, sealed, f"random {value:.3f}s (finished)", figures,
                         killed=False)
            window *= 0.8
            continue
        killed += 1
        figures.at_random += 1
        figures.kills += 1
        _check_after(scenario, work, reference, sealed, f"random {value:.3f}s", figures)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(reference_dir, ignore_errors=True)


def fresh_copy(state: Path, work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(state, work)


@contextlib.contextmanager
def smtp_server():
    """A real SMTP server on localhost (aiosmtpd), accepting everything; yields its port, or None."""
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink
    except ImportError:  # pragma: no cover
        yield None
        return
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def run_all(randoms_per_scenario: int, seed: int, only: set[str] | None = None, every_point: bool = True,
            progress=None) -> Figures:
    figures = Figures()
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="otb-crash-") as folder, smtp_server() as port:
        work = Path(folder)
        for scenario in build_scenarios(work, port):
            if only and scenario.name not in only:
                continue
            run_scenario(scenario, work, figures, rng, randoms_per_scenario, every_point)
            if progress:
                progress(scenario.name, figures)
    return figures


def report(figures: Figures) -> str:
    lines = [f"{figures.kills} kills: {figures.at_points} at a fault point (before each fsync, replace and unlink), "
             f"{figures.at_random} at a random moment",
             f"after the kill: {figures.completed} interrupted changes completed by the next run, {figures.undone} "
             f"had changed nothing; {figures.raw_valid} killed states passed bean-check even before recovery",
             "fault points per command: " + ", ".join(f"{k} {v}" for k, v in figures.points.items()),
             f"failures: {len(figures.failures)}"]
    lines += [f"  {f}" for f in figures.failures[:20]]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=18, help="random kills per scenario")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="scenario names")
    options = parser.parse_args()
    started = time.monotonic()
    result = run_all(options.random, options.seed, set(options.only or ()) or None,
                     progress=lambda name, f: print(f"  {name}: {f.kills} kills so far, {len(f.failures)} failures",
                                                    file=sys.stderr))
    print(report(result))
    print(f"{time.monotonic() - started:.0f} s")
    sys.exit(1 if result.failures else 0)
