"""Bad inputs: each gives `file:line: message` with a fix, exit 1, no traceback, and nothing written."""

from __future__ import annotations

import pytest

ASSETS = "account,asset_id,hostname,type,backup_tb"


def setup_ok(repo):
    repo.client("A1")
    repo.users("2024-10", "A1", 2)
    assert repo.run("bill", "2024-10").exit_code == 0  # a ledger exists, so "nothing written" means something


CASES = [
    (
        "yaml syntax",
        lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: [Client Co\nplan: Gold MSP Plan\n'),
        "clients/A1.yaml:3: YAML syntax error",
    ),
    (
        "unknown rate key with a hint",
        lambda r: r.write("plans/gold.yaml", (r.root / "plans/gold.yaml").read_text().replace(
            "per_workstation", "per_worksation")),
        "plans/gold.yaml:6: unknown key 'per_worksation' in term '1 Year' (did you mean 'per_workstation'?)",
    ),
    (
        "missing key",
        lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: Client Co\nprovince: ON\nterm: "1 Year"\n'),
        "clients/A1.yaml:1: missing required key 'plan'",
    ),
    (
        "wrong type",
        lambda r: r.client("A1", "rates: {per_user: fifteen}\n"),
        "clients/A1.yaml:6: rates: 'per_user' should be a rate, not text 'fifteen'",
    ),
    (
        "negative money",
        lambda r: r.client("A1", "rates:\n  per_user: -5.00\n"),
        "clients/A1.yaml:7: rates: 'per_user' is negative (-5.00)",
    ),
    (
        "duplicate account",
        lambda r: r.write("clients/zz-copy.yaml", (r.root / "clients/A1.yaml").read_text()),
        "clients/zz-copy.yaml: account 'A1' is also used by clients/A1.yaml",
    ),
    (
        "duplicate asset id",
        lambda r: r.csv("2024-10", "assets.csv", ASSETS, "A1,d1,PC1,workstation,", "A1,d1,PC2,workstation,"),
        "exports/2024-10/assets.csv:3: duplicate asset_id 'd1' (first on line 2)",
    ),
    (
        "unknown plan",
        lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: C\nprovince: ON\nplan: Gold Plan\nterm: "1 Year"\n'),
        "clients/A1.yaml:4: unknown plan 'Gold Plan' (did you mean 'Gold MSP Plan'?)",
    ),
    (
        "unknown term",
        lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: C\nprovince: ON\nplan: Gold MSP Plan\nterm: 2 Year\n'),
        "clients/A1.yaml:5: plan 'Gold MSP Plan' has no term '2 Year' (did you mean '1 Year'?)",
    ),
    (
        "unknown service in a line item",
        lambda r: r.client("A1", "line_items:\n  - {service: CONSULTING, quantity: 2}\n"),
        "clients/A1.yaml:7: service 'CONSULTING' is not in services.yaml (did you mean 'CONSULT'?)",
    ),
    (
        "unknown asset type",
        lambda r: r.csv("2024-10", "assets.csv", ASSETS, "A1,d1,PC1,workstation,", "A1,d2,LASER,printer,"),
        "exports/2024-10/assets.csv:3: asset d2 (LASER) has type 'printer', which is not a device type",
    ),
    (
        "bad month",
        lambda r: r.client("A1", "start: 2024-13\n"),
        "clients/A1.yaml:6: 'start': '2024-13' has no month 13",
    ),
    (
        "bad ticket date",
        lambda r: r.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", "A1,T1,x,10/05/2024,1"),
        "exports/2024-10/tickets.csv:2: 'date' is '10/05/2024', which is not a date",
    ),
    (
        "time row outside the month",
        lambda r: r.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", "A1,T1,x,2024-11-02,1"),
        "exports/2024-10/tickets.csv:2: time entry dated 2024-11-02 (America/Toronto) is outside 2024-10",
    ),
    (
        "missing CSV column",
        lambda r: r.csv("2024-10", "assets.csv", "account,hostname,type", "A1,PC1,workstation"),
        "exports/2024-10/assets.csv:1: missing required column(s): asset_id",
    ),
    (
        "unsafe account",
        lambda r: r.write("clients/A1.yaml", 'account: "A1/../x"\nname: C\nprovince: ON\nplan: Gold MSP Plan\nterm: "1 Year"\n'),
        "clients/A1.yaml:1: account 'A1/../x' has characters that are not allowed",
    ),
    (
        "hours not a number",
        lambda r: r.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", "A1,T1,x,2024-10-02,two"),
        "exports/2024-10/tickets.csv:2: 'hours': 'two' is not a number in the format 1,234.56",
    ),
    (
        "bad boolean",
        lambda r: r.csv("2024-10", "users.csv", "account,user_id,name,email,active", "A1,u1,U,,maybe"),
        "exports/2024-10/users.csv:2: 'active' is 'maybe' (write true/false, yes/no or 1/0)",
    ),
    (
        "unknown service in usage.csv",
        lambda r: r.csv("2024-10", "usage.csv", "account,service,quantity", "A1,IPFS,3"),
        "exports/2024-10/usage.csv:2: service 'IPFS' is not in services.yaml",
    ),
    (
        "duplicate YAML key",
        lambda r: r.client("A1", "name: Again\n"),
        "clients/A1.yaml:6: YAML syntax error: duplicate key 'name' (it appears earlier on line 2)",
    ),
    (
        "unknown province",
        lambda r: r.client("A1", province="ONT"),
        "clients/A1.yaml:3: unknown province 'ONT' (did you mean 'ON'?)",
    ),
    (
        "bad timezone",
        lambda r: r.write("settings.yaml", (r.root / "settings.yaml").read_text().replace(
            "America/Toronto", "Toronto")),
        "settings.yaml:3: unknown timezone 'Toronto'",
    ),
    (
        "invoice number without the account",
        lambda r: r.write("settings.yaml", (r.root / "settings.yaml").read_text().replace(
            '"{account}-{year}{month:02d}"', '"INV-{year}{month:02d}"')),
        "settings.yaml:4: invoice.number 'INV-{year}{month:02d}' must contain {account}, {year} and {month}",
    ),
    (
        "custom override without a rate",
        lambda r: r.client("A1", "assets:\n  d1: custom\n"),
        "clients/A1.yaml:7: asset 'd1' is custom but has no rate",
    ),
    (
        "manual asset with a rate but no custom type",
        lambda r: r.client("A1", "manual_assets:\n  - {hostname: X, type: workstation, rate: 5}\n"),
        "clients/A1.yaml:7: a rate goes with type: custom, not 'workstation'",
    ),
    (
        "line item with two kinds",
        lambda r: r.client("A1", "line_items:\n  - {name: X, monthly: 5, one_off: 6, month: 2024-10}\n"),
        "clients/A1.yaml:7: a line item needs exactly one of monthly, one_off, yearly or service",
    ),
    (
        "bad email",
        lambda r: r.client("A1", "billing_email: ap at acme.example\n"),
        "clients/A1.yaml:6: 'ap at acme.example' is not an email address",
    ),
    (
        "hand-broken ledger",
        lambda r: (r.root / "ledger/invoices/2024/2024-10.beancount").write_text(
            (r.root / "ledger/invoices/2024/2024-10.beancount").read_text().replace(" CAD\n", " CAD CAD\n", 1)),
        "ledger/invoices/2024/2024-10.beancount:",
    ),
    (
        "not UTF-8",
        lambda r: (r.root / "exports/2024-10/users.csv").write_bytes(b"account,user_id,name\nA1,u1,Ren\xe9\n"),
        "exports/2024-10/users.csv: not UTF-8 text",
    ),
]


@pytest.mark.parametrize("name, mutate, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_and_nothing_is_written(repo, name, mutate, expected):
    setup_ok(repo)
    mutate(repo)
    before = repo.snapshot()
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    assert "Nothing was written." in result.output
    assert "Traceback" not in result.output
    assert repo.snapshot() == before


def test_all_errors_of_a_run_are_reported_together(repo):
    setup_ok(repo)
    repo.client("A1", "rates: {per_usr: 1}\n")
    repo.client("A2", "term: Forever\n".replace("term", "support_level"))
    repo.csv("2024-10", "assets.csv", ASSETS, "A1,d1,PC1,workstation,-1")
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 1
    assert "3 problem(s) found" in result.output
    assert "clients/A1.yaml:6: unknown key 'per_usr' in rates (did you mean 'per_user'?)" in result.output
    assert "clients/A2.yaml:6: 'support_level' is 'Forever', not one of: hourly, flat" in result.output
    assert "exports/2024-10/assets.csv:2: 'backup_tb' is negative (-1)" in result.output


def test_check_reports_the_same_problems_and_exits_1(repo):
    setup_ok(repo)
    repo.client("A1", "rates: {per_usr: 1}\n")
    result = repo.run("check", "2024-10")
    assert result.exit_code == 1
    assert "clients/A1.yaml:6: unknown key 'per_usr'" in result.output


def test_check_passes_on_a_clean_repo(repo):
    setup_ok(repo)
    result = repo.run("check", "2024-10")
    assert result.exit_code == 0, result.output
    assert "OK: 1 client(s), 1 plan(s), exports of 2024-10 bill cleanly, ledger passes bean-check" in result.output


def test_bad_month_argument(repo):
    result = repo.run("bill", "October")
    assert result.exit_code == 2
    assert "write it as YYYY-MM" in result.output


def test_missing_settings_says_how_to_start(tmp_path):
    from conftest import run

    result = run(tmp_path, "bill", "2024-10")
    assert result.exit_code == 1
    assert "settings.yaml is missing (run `otb init DIR`" in result.output


def test_billing_problems_are_reported_alongside_reading_problems(repo):
    setup_ok(repo)
    repo.client("A1", "rates: {per_usr: 1}\n")
    repo.client("B2", name="Other")
    repo.csv("2024-10", "assets.csv", ASSETS, "B2,d1,LASER,printer,")
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 1
    assert "clients/A1.yaml:6: unknown key 'per_usr'" in result.output
    assert "exports/2024-10/assets.csv:2: asset d1 (LASER) has type 'printer'" in result.output


def test_input_errors_survive_a_trip_between_processes():
    import pickle

    from otb_billing.core.errors import InputErrors, Problem, Source

    error = InputErrors([Problem(Source("a.yaml", 3), "bad", "fix it")])
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems and str(again) == "a.yaml:3: bad (fix it)"
