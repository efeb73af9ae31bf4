"""`otb fx set` and `otb fx import`: exchange rates as `price` directives in ledger/prices.beancount."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from ..books.prices import PRICES_FILE, with_price
from ..core.errors import InputErrors, Problem, Source
from ..core.money import parse_decimal, plain
from ..readers.config import read_config
from ..readers.csvfile import open_csv
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
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
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
    """Rates from a CSV with columns date, currency, rate (ISO dates, a dot for decimals); every bad row listed."""
    name = str(path)
    problems: list[Problem] = []
    opened = open_csv(path, name, problems, "save it as UTF-8 CSV")
    if opened is None:
        raise InputErrors(problems)
    header, records = opened
    if not {"date", "currency", "rate"} <= set(header):
        raise InputErrors([Problem(Source(name, 1), "the header must name date, currency and rate",
                                   "e.g. date,currency,rate")])
    where = {column: header.index(column) for column in ("date", "currency", "rate")}
    rates = {}
    for record, line in records:
        cell = {k: (record[i].strip() if i < len(record) else "") for k, i in where.items()}
        try:
            day = dt.date.fromisoformat(cell["date"])
        except ValueError:
            problems.append(Problem(Source(name, line), f"'date' is '{cell['date']}', which is not a date",
                                    "write it as YYYY-MM-DD"))
            continue
        try:
            rates[(cell["currency"].upper(), day)] = parse_decimal(cell["rate"])
        except ValueError as exc:
            problems.append(Problem(Source(name, line), f"'rate': {exc}", "write it like 1.3650"))
    if problems:
        raise InputErrors(problems)
    return rates
