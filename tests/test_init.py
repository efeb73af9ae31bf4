"""`otb init DIR` makes a billing repo that bills and checks cleanly as it is."""

from __future__ import annotations

from beancount import loader
from click.testing import CliRunner

from otb_billing.cli import main


def test_init_then_bill(tmp_path):
    target = tmp_path / "newco"
    result = CliRunner().invoke(main, ["init", str(target), "--name", "New Co IT"])
    assert result.exit_code == 0, result.output
    for name in ("settings.yaml", "services.yaml", "plans/standard-msp.yaml", "clients/100001-example.yaml",
                 "ledger/main.beancount", "ledger/accounts.beancount", ".gitignore", "templates/invoice.html.j2",
                 "templates/email/invoice_subject.txt.j2", "templates/email/reminder_body.txt.j2"):
        assert (target / name).exists(), name
    (target / "exports/2024-10").mkdir(parents=True)
    (target / "exports/2024-10/users.csv").write_text("account,user_id,name\n100001,1,Pat\n")
    result = CliRunner().invoke(main, ["bill", "2024-10", "--root", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert '"total": "15.00"' in result.output  # not registered for GST/HST yet: no tax
    _, errors, options = loader.load_file(str(target / "ledger/main.beancount"))
    assert errors == [] and options["title"] == "New Co IT"
    check = CliRunner().invoke(main, ["check", "--root", str(target)])
    assert check.exit_code == 0, check.output


def test_init_refuses_an_existing_repo(tmp_path):
    (tmp_path / "settings.yaml").write_text("business: {name: X}\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "already holds a billing repo" in result.output
