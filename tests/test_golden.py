"""Whole outputs of the example month against reviewed golden files (tests/golden/).

To accept a deliberate change: OTB_UPDATE_GOLDEN=1 make test, then review `git diff tests/golden` line by line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import run

GOLDEN = Path(__file__).parent / "golden"


def compare(actual: Path, golden_name: str) -> None:
    golden = GOLDEN / golden_name
    if os.environ.get("OTB_UPDATE_GOLDEN"):
        shutil.copy(actual, golden)
    assert actual.read_bytes() == golden.read_bytes(), f"{actual} differs from {golden}"


def test_example_month_from_an_empty_ledger_matches_the_golden_files(example):
    shutil.rmtree(example / "ledger")
    assert run(example, "fx", "import", str(example / "exports/fx-rates.csv")).exit_code == 0
    for month in ("2024-08", "2024-09", "2024-10"):
        result = run(example, "bill", month)
        assert result.exit_code == 0, result.output
    compare(example / "ledger/invoices/2024/2024-10.beancount", "2024-10.beancount")
    compare(example / "build/2024-10/Wayne Enterprises-987654-202410.csv", "Wayne Enterprises-987654-202410.csv")
    compare(example / "build/2024-10/Northwind Traders Canada-NWT-310-202410.csv",
            "Northwind Traders Canada-NWT-310-202410.csv")
