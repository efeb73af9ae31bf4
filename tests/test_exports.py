"""Reading the exports: header names not positions, BOM, extra columns, blanks as defaults, absent files."""

from __future__ import annotations

import datetime as dt
import os
import time
import zoneinfo

import pytest

from otb_billing.readers.exports import parse_when

TORONTO = zoneinfo.ZoneInfo("America/Toronto")


def test_bom_column_order_extra_columns_and_blank_defaults(repo):
    repo.client("A1")
    (repo.root / "exports/2024-10").mkdir(parents=True)
    (repo.root / "exports/2024-10/users.csv").write_bytes(
        "\ufeffEmail,Name,Department,User_ID,Account,Active\r\n"
        "a@x,Zoë Ñandú,Sales,u1,A1,\r\n"
        "b@x,Bob,Ops,u2,A1,No\r\n"
        "\r\n"
        "c@x,\"Smith, Carol\",Ops,u3,A1,YES\r\n".encode("utf-8"))
    repo.csv("2024-10", "assets.csv", "type,asset_id,account,hostname", "Workstation,d1,A1,PC1")
    inv = repo.invoice()
    assert [ln["description"] for ln in inv["lines"]] == [
        "User: Smith, Carol", "User: Zoë Ñandú", "Workstation: PC1"]
    assert inv["counts"]["backup_tb"] == "0"


def test_absent_files_are_empty_parts(repo):
    repo.client("A1", "line_items:\n  - {name: Retainer, monthly: 99.95}\n")
    inv = repo.invoice()
    assert [ln["amount"] for ln in inv["lines"]] == ["99.95"]


def test_money_and_quantities_are_read_as_decimal_never_float(repo):
    repo.client("A1", "rates: {per_user: 0.10}\n")
    repo.csv("2024-10", "assets.csv", "account,asset_id,hostname,type,backup_tb",
             *(f"A1,d{i},PC{i},workstation,0.1" for i in range(10)))
    repo.users("2024-10", "A1", 3)
    inv = repo.invoice()
    # ten times 0.1 TB is exactly 1 TB (a float sum gives 0.9999999999999999)
    assert inv["counts"]["backup_tb"] == "1"
    assert inv["totals"]["users"] == "0.30"


@pytest.mark.parametrize(
    "text, local",
    [
        ("2024-10-31", dt.datetime(2024, 10, 31, 0, 0)),
        ("2024-10-31T23:59:59", dt.datetime(2024, 10, 31, 23, 59, 59)),
        ("2024-10-31 23:59:59", dt.datetime(2024, 10, 31, 23, 59, 59)),
        ("2024-11-01T03:59:59Z", dt.datetime(2024, 10, 31, 23, 59, 59)),
        ("2024-11-01T03:59:59+00:00", dt.datetime(2024, 10, 31, 23, 59, 59)),
        ("2024-11-03T12:00:00+01:00", dt.datetime(2024, 11, 3, 6, 0)),  # after the DST change: UTC-5
    ],
)
def test_dates_are_placed_in_the_settings_timezone(text, local):
    when = parse_when(text, TORONTO)
    assert when.replace(tzinfo=None) == local


def test_rows_for_unknown_accounts_are_counted_in_a_warning(repo):
    repo.client("A1")
    repo.csv("2024-10", "users.csv", "account,user_id", "A1,u1", "ZZ,u2", "ZZ,u3", "YY,u4")
    document = repo.bill_json()
    assert document["warnings"] == [
        "exports/2024-10/users.csv:5: 1 row(s) for account 'YY', which has no client file: not billed "
        "(add clients/YY-<name>.yaml to bill them)",
        "exports/2024-10/users.csv:3: 2 row(s) for account 'ZZ', which has no client file: not billed "
        "(add clients/ZZ-<name>.yaml to bill them)",
    ]


def test_overrides_that_match_no_row_are_warned_about(repo):
    repo.client("A1", 'assets: {"gone": no_charge}\n')
    repo.users("2024-10", "A1", 1)
    document = repo.bill_json()
    assert document["warnings"] == ["clients/A1.yaml:6: asset override 'gone' matches no row in assets.csv"]


def test_unquoted_numeric_ids_keep_their_text(repo):
    repo.write("clients/x.yaml", 'account: 012345\nname: Zero Lead\nprovince: ON\nplan: Gold MSP Plan\n'
               'term: "1 Year"\nusers: {007: free}\n')
    repo.csv("2024-10", "users.csv", "account,user_id,name", "012345,007,Bond", "012345,008,Moneypenny")
    inv = repo.invoice()
    assert inv["invoice"] == "012345-202410"
    assert [ln["description"] for ln in inv["lines"]] == ["User: Bond (free)", "User: Moneypenny"]


def test_equal_cells_and_numbers_share_one_object_fresh_and_from_the_cache(repo, monkeypatch):
    """A 10,000-client month has 750,000 rows; an account, a type or a number repeated on many of them is kept
    once (about 120 MB less at that size), both when the file is read and when its rows come from .otb/cache."""
    from pathlib import Path

    from otb_billing import filecache
    from otb_billing.core.month import Month
    from otb_billing.readers import exports as exports_reader
    from otb_billing.readers.exports import read_exports

    repo.csv("2024-10", "assets.csv", "account,asset_id,hostname,type,backup_tb",
             *(f"A{i % 2},d{i},PC{i},workstation,{'0.5' if i % 3 else '1.25'}" for i in range(12)))
    root = Path(repo.root)
    long_ago = time.time() - 3600  # not 'racy': kept between runs
    os.utime(root / "exports/2024-10/assets.csv", (long_ago, long_ago))
    for run in range(2):  # read, then again from the cache the first read kept
        if run:
            monkeypatch.setattr(exports_reader, "_read_file", lambda *a: pytest.fail("read again, not cached"))
        with filecache.persisted(root, False):
            exports, problems = read_exports(root, Month(2024, 10), "America/Toronto")
        rows = exports.assets
        assert problems == [] and len(rows) == 12
        assert rows[0].account is rows[2].account and rows[0].type is rows[5].type
        assert rows[1].backup_tb is rows[2].backup_tb and str(rows[1].backup_tb) == "0.5"
        assert rows[3].backup_tb is rows[6].backup_tb and str(rows[3].backup_tb) == "1.25"
        assert rows[0].hostname == "PC0" and rows[0].account == "A0" and rows[1].account == "A1"
    assert (root / ".otb" / "cache").is_dir()


def test_equal_line_amounts_share_one_decimal_and_stay_exact(repo):
    repo.client("A1")
    repo.csv("2024-10", "assets.csv", "account,asset_id,hostname,type",
             *(f"A1,d{i},PC{i},workstation" for i in range(3)))
    repo.users("2024-10", "A1", 2)
    from otb_billing.core.month import Month
    from otb_billing.jobs.pipeline import compute

    _, result, _ = compute(repo.root, Month(2024, 10))
    lines = result.invoices[0].lines
    devices = [ln for ln in lines if ln.category == "workstations"]
    users = [ln for ln in lines if ln.category == "users"]
    assert [str(ln.amount) for ln in devices] == ["75.00"] * 3 and [str(ln.amount) for ln in users] == ["15.00"] * 2
    assert devices[0].amount is devices[2].amount and users[0].amount is users[1].amount
