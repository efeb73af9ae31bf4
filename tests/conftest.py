"""Shared fixtures: small billing repos written to a temp folder, and the CLI driven through CliRunner."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from otb_billing.cli import main

REPO = Path(__file__).resolve().parent.parent

SETTINGS = """\
business: {name: Test MSP, email: billing@test.example, address: ["1 Main St", "Toronto ON"], province: ON, country: CA}
currency: CAD
timezone: America/Toronto
invoice: {terms_days: 30, number: "{account}-{year}{month:02d}", footer: "Thanks"}
tax:
  registrations: {GST/HST: "123456789RT0001"}
  local_country: CA
asset_types: {laptop: workstation}
"""

GOLD = """\
name: Gold MSP Plan
support_level: hourly
terms:
  "1 Year":
    per_user: 15.00
    per_workstation: 75.00
    per_server: 125.00
    per_vm: 50.00
    per_switch: 100.00
    per_firewall: 150.00
    per_hour: 150.00
    backup_base_workstation: 5.00
    backup_base_server: 10.00
    backup_included_tb: 1.0
    backup_per_tb: 25.00
"""

SERVICES = """\
- {code: CONSULT, name: Consulting, rate: 125.00, unit: hour, taxable: true}
- {code: DOMAIN, name: Domain Registration, rate: 20.00, unit: year, taxable: false}
"""


class Repo:
    """A billing repo in a temp folder. Files are given as text; CSVs as header + rows."""

    def __init__(self, root: Path):
        self.root = root
        self.write("settings.yaml", SETTINGS)
        self.write("plans/gold.yaml", GOLD)
        self.write("services.yaml", SERVICES)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def client(self, account: str, extra: str = "", name: str = "Client Co", province: str = "ON") -> Path:
        body = f'account: "{account}"\nname: {name}\nprovince: {province}\nplan: Gold MSP Plan\nterm: "1 Year"\n'
        return self.write(f"clients/{account}.yaml", body + textwrap.dedent(extra))

    def csv(self, month: str, name: str, header: str, *rows: str) -> Path:
        return self.write(f"exports/{month}/{name}", "\n".join((header,) + rows) + "\n")

    def users(self, month: str, account: str, count: int, start: int = 1) -> None:
        rows = [f"{account},{account}-u{i},User {i:03d},u{i}@x.example,true" for i in range(start, start + count)]
        self.csv(month, "users.csv", "account,user_id,name,email,active", *rows)

    def run(self, *args: str):
        result = CliRunner().invoke(main, [*args, "--root", str(self.root)], catch_exceptions=False)
        return result

    def bill_json(self, month: str = "2024-10", *extra: str) -> dict:
        result = self.run("bill", month, "--json", "--dry-run", *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def invoice(self, month: str = "2024-10", account: str | None = None) -> dict:
        document = self.bill_json(month)
        invoices = document["invoices"]
        if account is None:
            assert len(invoices) == 1, invoices
            return invoices[0]
        return next(i for i in invoices if i["account"] == account)

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the repo, for 'nothing was written' checks."""
        return {
            p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and p.name != ".otb.lock" and ".otb" not in p.relative_to(self.root).parts
        }


@pytest.fixture
def repo(tmp_path) -> Repo:
    return Repo(tmp_path / "repo")


def example_repo(target: Path) -> Path:
    """A copy of the example billing repo that ships with the project, at `target` (made here)."""
    target.mkdir(parents=True)
    for name in ("settings.yaml", "services.yaml"):
        shutil.copy(REPO / name, target / name)
    for folder in ("plans", "clients", "exports", "ledger"):
        shutil.copytree(REPO / folder, target / folder)
    return target


@pytest.fixture
def example(tmp_path) -> Path:
    """A copy of the example billing repo that ships with the project."""
    return example_repo(tmp_path / "example")


def ok(repo: Repo, *args: str) -> str:
    """Run the CLI on a Repo, insist on success, return what it printed."""
    result = repo.run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def run(root: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--root", str(root)], catch_exceptions=False)
