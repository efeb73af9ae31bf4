"""Bad inputs beyond the table (tests/test_bad_input_table.py): every problem of a run at once, `otb check`."""

from __future__ import annotations

ASSETS = "account,asset_id,hostname,type,backup_tb"


def setup_ok(repo):
    repo.client("A1")
    repo.users("2024-10", "A1", 2)
    assert repo.run("bill", "2024-10").exit_code == 0  # a ledger exists, so "nothing written" means something


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
