"""`otb fx set` and `otb fx import`: exchange rates as `price` directives in ledger/prices.beancount."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

from ..books.prices import PRICES_FILE, with_price
from ..core.errors import InputErrors, Problem, Source
from ..core.money import parse_decimal
from ..fsutil import write_all
from ..readers.config import read_config
from .ledger_edit import ledger_file_edits, open_books, skeleton_files, write_verified


def run_fx_set(root: Path, rates: dict[tuple[str, dt.date], Decimal]) -> Path:
    """Write the rates; works before the first bill too (rates are needed to bill a foreign client)."""
    config = read_config(root)
    skeleton = skeleton_files(root, config)
    if skeleton:
        write_all(skeleton)
    open_books(root)
    base = config.settings.currency
    problems = []
    for (currency, day), rate in rates.items():
        if not re.fullmatch(r"[A-Z]{3}", currency) or currency == base:
            problems.append(Problem(None, f"'{currency}' is not a foreign currency code", "e.g. USD or EUR"))
        if rate <= 0:
            problems.append(Problem(None, f"{currency} rate on {day} must be positive, not {rate}"))
    if problems:
        raise InputErrors(problems)
    path = root / "ledger" / PRICES_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for (currency, day), rate in sorted(rates.items()):
        text = with_price(text, currency, day, rate, base)
    write_verified(root, ledger_file_edits(root, {path: text}))
    return path


def read_rates_csv(path: Path) -> dict[tuple[str, dt.date], Decimal]:
    name = str(path)
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if not {"date", "currency", "rate"} <= set(fields):
        raise InputErrors([Problem(Source(name, 1), "the header must name date, currency and rate")])
    rates, problems = {}, []
    for row in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        line = reader.line_num
        try:
            day = dt.date.fromisoformat(row["date"])
            rates[(row["currency"].upper(), day)] = parse_decimal(row["rate"])
        except ValueError as exc:
            problems.append(Problem(Source(name, line), f"bad row: {exc}", "write 2024-10-31,USD,1.3650"))
    if problems:
        raise InputErrors(problems)
    return rates
