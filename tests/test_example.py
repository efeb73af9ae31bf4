"""The seed's worked example (Acme Corporation, October 2024) through the CLI, to the cent."""

from __future__ import annotations

import json

from conftest import run


def _acme(document: dict) -> dict:
    return next(i for i in document["invoices"] if i["invoice"] == "620547-202410")


def test_acme_october_2024_matches_the_seed(example):
    result = run(example, "bill", "2024-10", "--json", "--dry-run")
    assert result.exit_code == 0, result.output
    acme = _acme(json.loads(result.output))
    assert acme["totals"] == {
        "users": "375.00",
        "assets": "1875.00",
        "backup": "150.00",
        "tickets": "1875.00",
        "line_items": "0.00",
    }
    assert acme["subtotal"] == "4275.00"
    # HST 13% on 4275.00 = 555.75
    assert acme["taxes"] == [{"name": "HST", "rate": "13", "base": "4275.00", "amount": "555.75"}]
    assert acme["total"] == "4830.75"
    assert acme["date"] == "2024-10-31" and acme["due"] == "2024-11-30"
    counts = acme["counts"]
    assert (counts["users"], counts["workstations"], counts["servers"]) == (25, 20, 3)
    assert counts["backup_tb"] == "1.8"
    assert counts["billable_hours"] == "12.5"
    backup = [line for line in acme["lines"] if line["category"] == "backup"]
    assert [(ln["quantity"], ln["rate"], ln["amount"]) for ln in backup] == [
        ("20", "5.00", "100.00"),
        ("3", "10.00", "30.00"),
        ("0.8", "25.00", "20.00"),
    ]


def test_acme_with_workstation_override_is_4075(example):
    path = example / "clients" / "620547-acme.yaml"
    path.write_text(path.read_text() + "rates: {per_workstation: 65.00}\n")
    result = run(example, "bill", "2024-10", "--json", "--dry-run", "--client", "620547")
    assert result.exit_code == 0, result.output
    acme = _acme(json.loads(result.output))
    assert acme["totals"]["assets"] == "1675.00"  # 20 x 65 + 3 x 125
    assert acme["subtotal"] == "4075.00"


def test_make_bill_on_a_fresh_copy_changes_nothing(example):
    """The shipped ledger is exactly what `otb bill` writes: billing again gives byte-identical files."""
    before = {p: p.read_bytes() for p in (example / "ledger").rglob("*.beancount")}
    for month in ("2024-08", "2024-09", "2024-10"):
        result = run(example, "bill", month)
        assert result.exit_code == 0, result.output
    after = {p: p.read_bytes() for p in (example / "ledger").rglob("*.beancount")}
    assert after == before


def test_example_table_flags_big_changes_and_unbilled_inventory(example):
    result = run(example, "bill", "2024-10", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "620547-202410" in result.output and "$4,830.75" in result.output
    assert "2 row(s) for account '999999', which has no client file" in result.output
    assert "exports/2024-10/assets.csv:" in result.output
