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
from ..core.money import parse_decimal, plain
from ..readers.config import read_config
from .ledger_edit import commit_ledger, ledger_file_edits, open_books, skeleton_files


MIN_RATE, MAX_RATE = Decimal("0.000001"), Decimal("1000000")


def rate_problem(currency: str, day: dt.date, rate: Decimal, base: str) -> str:
    """Why a rate cannot be used, or ""."""
    if not re.fullmatch(r"[A-Z]{3}", currency) or currency == base:
        return f"'{currency}' is not a foreign currency code (e.g. USD or EUR)"
    if not rate.is_finite() or rate <= 0:
        return f"{currency} rate on {day} must be positive, not {rate}"
    if not MIN_RATE <= rate <= MAX_RATE:
        return (f"{currency} rate {plain(rate)} on {day} is outside {MIN_RATE} to {MAX_RATE:,} {base} per "
                f"{currency}: a typo?")
    if rate.as_tuple().exponent < -10:
        return f"{currency} rate {plain(rate)} has more than 10 decimals"
    return ""


def run_fx_set(root: Path, rates: dict[tuple[str, dt.date], Decimal]) -> Path:
    """Write the rates; works before the first bill too (rates are needed to bill a foreign client)."""
    config = read_config(root)
    skeleton = skeleton_files(root, config)
    if not skeleton:
        open_books(root)  # refuses a ledger that fails bean-check
    base = config.settings.currency
    problems = [Problem(None, why) for (currency, day), rate in rates.items()
                if (why := rate_problem(currency, day, rate, base))]
    if problems:
        raise InputErrors(problems)
    path = root / "ledger" / PRICES_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for (currency, day), rate in sorted(rates.items()):
        text = with_price(text, currency, day, rate, base)
    commit_ledger(root, ledger_file_edits(root, {path: text}, base=skeleton), "otb fx set")
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
