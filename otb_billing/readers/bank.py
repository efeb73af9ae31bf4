"""A bank statement (CSV) read into rows: columns mapped in settings, numbers in the statement's number format.

Every row that cannot be read is listed with its line; amounts are in cents, never rounded from more decimals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from ..core.errors import InputErrors, Problem, Source
from ..core.money import (
    CENT,
    DEFAULT_FORMAT,
    NUMBER_EXAMPLES,
    number_problem,
    parse_number,
)
from ..core.month import MAX_YEAR, MIN_YEAR
from .csvfile import open_csv


class BankRow(NamedTuple):
    line: int
    date: dt.date
    amount: Decimal
    text: str
    ref: str


def read_bank_csv(path: Path, mapping: dict, name: str, style: str = DEFAULT_FORMAT) -> list[BankRow]:
    """The statement's rows; InputErrors listing every row that cannot be read (file:line, why, how to fix)."""
    columns = {role: mapping.get(role, role).strip().lower() for role in ("date", "amount", "description", "reference")}
    date_format = mapping.get("date_format", "")
    style = mapping.get("number_format", style)
    problems: list[Problem] = []
    opened = open_csv(path, name, problems, "save the statement as UTF-8 CSV")
    if opened is None:
        raise InputErrors(problems)
    header, records = opened
    missing = [columns[r] for r in ("date", "amount", "description") if columns[r] not in header]
    if missing:
        raise InputErrors([Problem(Source(name, 1), f"missing column(s) {', '.join(missing)}",
                                   "map your bank's column names under bank.csv in settings.yaml")])
    pos = {role: header.index(col) if col in header else None for role, col in columns.items()}
    rows = []
    for record, start in records:
        def cell(role: str, record: list[str] = record) -> str:
            at = pos[role]
            return record[at].strip() if at is not None and at < len(record) else ""

        day = _bank_date(cell("date"), date_format)
        if day is None:
            problems.append(Problem(Source(name, start), f"date '{cell('date')}' is not a date"
                                    + (f" in the format {date_format}" if date_format else ""),
                                    "set bank.csv.date_format in settings.yaml, e.g. %m/%d/%Y"))
            continue
        try:
            amount = parse_number(cell("amount"), style)
        except ValueError as exc:
            problems.append(Problem(Source(name, start), f"amount: {exc}",
                                    f"write it like {NUMBER_EXAMPLES[style]}, or set bank.csv.number_format in "
                                    "settings.yaml to your bank's format"))
            continue
        why = number_problem(amount) or ("" if amount == amount.quantize(CENT) else
                                         f"'{cell('amount')}' has more than two decimals; amounts are in cents")
        if why:
            problems.append(Problem(Source(name, start), f"amount: {why}", "check this row against the bank"))
            continue
        description = " ".join(cell("description").split())
        ref = " ".join(cell("reference").split()) or "BANK-" + hashlib.sha256(
            f"{day}|{amount}|{description}".encode()).hexdigest()[:10].upper()
        rows.append(BankRow(start, day, amount, description, ref))
    if problems:
        raise InputErrors(problems)
    return rows


def _bank_date(text: str, date_format: str) -> dt.date | None:
    try:
        day = dt.datetime.strptime(text, date_format).date() if date_format else dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None
