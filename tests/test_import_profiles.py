"""Vendors' exports through the shipped import profiles (`otb import-exports`), then billed; amounts by hand.

Clients: A1 Acme Corporation (Ontario, HST 13%, also known as "ACME CORP - Head Office"), B2 Beta Law LLP (Alberta,
GST 5%). Gold plan: workstation 75.00, server 125.00, vm 50.00, switch 100.00, firewall 150.00, user 15.00,
hour 150.00.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ok

from otb_billing.readers.profiles import shipped_profiles

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def msp(repo):
    repo.client("A1", 'match: ["ACME CORP - Head Office"]\n', name="Acme Corporation")
    repo.client("B2", name="Beta Law LLP", province="AB")
    return repo


def sample(repo, name: str) -> str:
    target = repo.root.parent / name
    shutil.copy(SAMPLES / name, target)
    return str(target)


def totals(repo, month: str = "2024-10") -> dict[str, tuple[str, str, str]]:
    document = json.loads(ok(repo, "bill", month, "--json", "--dry-run"))
    return {i["account"]: (i["subtotal"], i["tax"], i["total"]) for i in document["invoices"]}


def test_every_shipped_profile_has_a_sample_billed_here():
    assert shipped_profiles() == ["autotask-time", "connectwise-manage-time", "datto-rmm-devices", "halopsa-time",
                                  "microsoft-365-users", "ninjaone-devices"]
    assert sorted(p.stem for p in SAMPLES.glob("*.csv")) == shipped_profiles()


def test_datto_rmm_devices(msp):
    out = ok(msp, "import-exports", "2024-10", sample(msp, "datto-rmm-devices.csv"), "--profile", "datto-rmm-devices")
    assert "Wrote 6 row(s) from Datto RMM devices to exports/2024-10/assets.csv" in out
    assert "Skipped as the profile says: 1 row(s) with Device Type 'Printer'" in out
    assert "Skipped as the profile says: 1 row(s) with Status 'Deleted'" in out
    assert "Not imported: 1 row(s) of organizations no client matches:\n  'Zed Bakery': 1 row(s)" in out
    text = (msp.root / "exports/2024-10/assets.csv").read_text()
    assert text.splitlines()[0] == "account,asset_id,type,hostname,backup_tb,source"
    assert "A1,a1b2c3d4-0003,workstation,ACME-LT-002,,datto-rmm-devices" in text  # matched by its alias
    # A1: servers DC01 and ESX1 250.00, workstations PC-001 and LT-002 150.00, switch 100.00 = 500.00, HST 65.00
    # B2: one laptop 75.00, GST 3.75
    assert totals(msp) == {"A1": ("500.00", "65.00", "565.00"), "B2": ("75.00", "3.75", "78.75")}


def test_ninjaone_devices(msp):
    ok(msp, "import-exports", "2024-10", sample(msp, "ninjaone-devices.csv"), "--profile", "ninjaone-devices")
    # server 125.00 + workstation 75.00 + Mac 75.00 + VM 50.00 + firewall 150.00 = 475.00; the printer is left out
    assert totals(msp) == {"A1": ("475.00", "61.75", "536.75")}


def test_connectwise_manage_time_entries_and_a_row_of_the_next_month(msp):
    out = ok(msp, "import-exports", "2024-10", sample(msp, "connectwise-manage-time.csv"),
             "--profile", "connectwise-manage-time")
    assert "Note: 1 time row(s) are dated in 2024-11: they went to exports/2024-11/ (not 2024-10)" in out
    # A1: billable 1.50 + 2.25 = 3.75 h x 150.00 = 562.50, HST 73.125 -> 73.13; B2: 4 h = 600.00, GST 30.00
    assert totals(msp) == {"A1": ("562.50", "73.13", "635.63"), "B2": ("600.00", "30.00", "630.00")}
    hours = json.loads(ok(msp, "bill", "2024-10", "--json", "--dry-run"))["invoices"][0]["counts"]
    assert (hours["hours"], hours["billable_hours"]) == ("7", "3.75")  # training and a no-charge reset not billed
    assert "A1,50125,2024-11-01,2.00,New laptop setup,true" in (msp.root / "exports/2024-11/tickets.csv").read_text()


def test_halopsa_time_entries_in_london_time_are_billed_in_toronto_months(msp):
    ok(msp, "import-exports", "2024-10", sample(msp, "halopsa-time.csv"), "--profile", "halopsa-time")
    # 1 Nov 02:30 in London is 31 Oct 22:30 in Toronto: October. 1 Nov 10:00 in London is November in Toronto.
    # October billable: 1.25 + 2.00 + 1.00 = 4.25 h x 150.00 = 637.50, HST 82.875 -> 82.88
    assert totals(msp) == {"A1": ("637.50", "82.88", "720.38")}
    assert (
        "A1,3004,2024-11-01T06:00:00-04:00,3.00,Onboarding,true"
        in (msp.root / "exports/2024-11/tickets.csv").read_text()
    )


def test_autotask_time_entries(msp):
    ok(msp, "import-exports", "2024-10", sample(msp, "autotask-time.csv"), "--profile", "autotask-time")
    assert totals(msp) == {"B2": ("525.00", "26.25", "551.25")}  # 3.50 h x 150.00, GST 5%


def test_microsoft_365_users_of_one_tenant(msp):
    result = msp.run(
        "import-exports", "2024-10", sample(msp, "microsoft-365-users.csv"), "--profile", "microsoft-365-users"
    )
    assert result.exit_code == 1 and "give the client: --client ACCOUNT" in result.output
    out = ok(
        msp,
        "import-exports",
        "2024-10",
        sample(msp, "microsoft-365-users.csv"),
        "--profile",
        "microsoft-365-users",
        "--client",
        "A1",
    )
    assert "Skipped as the profile says: 1 row(s) with Licenses 'Unlicensed'" in out
    # Alice and Bob; Carol's sign-in is blocked (inactive): 2 x 15.00 = 30.00, HST 3.90
    assert totals(msp) == {"A1": ("30.00", "3.90", "33.90")}


def test_importing_again_replaces_the_profiles_rows_and_keeps_the_rest(msp):
    msp.csv("2024-10", "assets.csv", "account,asset_id,hostname,type,backup_tb", "B2,hand-1,BETA-NAS,server,")
    ok(msp, "import-exports", "2024-10", sample(msp, "ninjaone-devices.csv"), "--profile", "ninjaone-devices")
    ok(msp, "import-exports", "2024-10", sample(msp, "ninjaone-devices.csv"), "--profile", "ninjaone-devices")
    ok(msp, "import-exports", "2024-10", sample(msp, "datto-rmm-devices.csv"), "--profile", "datto-rmm-devices")
    lines = (msp.root / "exports/2024-10/assets.csv").read_text().splitlines()
    assert lines[1] == "B2,hand-1,server,BETA-NAS,,"  # typed by hand: kept
    assert sum(line.endswith(",ninjaone-devices") for line in lines) == 5
    assert sum(line.endswith(",datto-rmm-devices") for line in lines) == 6


def test_a_dry_run_writes_nothing_and_vendor_mistakes_name_their_line(msp):
    before = msp.snapshot()
    out = ok(
        msp, "import-exports", "2024-10", sample(msp, "autotask-time.csv"), "--profile", "autotask-time", "--dry-run"
    )
    assert "Would write 3 row(s)" in out and msp.snapshot() == before
    bad = msp.root.parent / "bad-time.csv"
    bad.write_text(
        "Account Name,Ticket Number,Ticket Title,Date Worked,Hours Worked,Billable\n"
        'Beta Law LLP,T1,x,10/32/2024,1.00,Yes\nBeta Law LLP,T2,y,10/03/2024,"1,5",Yes\n'
        "Beta Law LLP,T3,z,10/03/2024,1.00,Maybe\n"
    )
    result = msp.run("import-exports", "2024-10", str(bad), "--profile", "autotask-time")
    assert result.exit_code == 1
    assert "bad-time.csv:2: 'Date Worked' is '10/32/2024', which is not a date in the format %m/%d/%Y" in result.output
    assert "bad-time.csv:3: 'Hours Worked': '1,5' is not a number in the format 1,234.56" in result.output
    assert "bad-time.csv:4: Billable is 'Maybe', which the profile 'autotask-time' does not map" in result.output
    assert msp.snapshot() == before


def test_a_profile_of_the_repo_with_a_mistake_is_reported_with_its_line(msp):
    msp.write(
        "import_profiles/mine.yaml",
        "kind: assets\ncolumns: {asset_id: ID, hostname: Name}\nvalues: {type: {Tablet: phone}}\n",
    )
    result = msp.run("import-exports", "2024-10", sample(msp, "ninjaone-devices.csv"), "--profile", "mine")
    assert result.exit_code == 1
    assert "import_profiles/mine.yaml:2: import profile 'mine' does not say which column is 'type'" in result.output
    assert "import_profiles/mine.yaml:3: values: 'type' is not one of the profile's columns" in result.output
    unknown = msp.run("import-exports", "2024-10", sample(msp, "ninjaone-devices.csv"), "--profile", "ninja")
    assert (
        "no import profile 'ninja' (known: autotask-time, connectwise-manage-time, datto-rmm-devices" in unknown.output
    )


def test_a_vendor_time_that_leaves_the_calendar_in_the_repo_s_zone_is_not_a_date():
    """Moved to the repo's zone, these fall in year 10000 and year 0: not a date (then reported with its line), not
    a traceback. The same as the exports fuzz found in otb's own reader."""
    import zoneinfo

    from otb_billing.readers.vendor import _when

    tokyo, toronto = zoneinfo.ZoneInfo("Asia/Tokyo"), zoneinfo.ZoneInfo("America/Toronto")
    assert _when("9999-12-31T23:30:00-04:00", "", toronto, tokyo) is None
    assert _when("0001-01-01T00:30:00+05:00", "", tokyo, toronto) is None
    assert _when("2024-10-03T09:00:00+09:00", "", toronto, tokyo).isoformat() == "2024-10-03T09:00:00+09:00"
