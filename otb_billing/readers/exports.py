"""Read a month's inventory and usage exports (users, assets, tickets, usage CSV) into core rows.

Header row required, column order free, UTF-8 with or without BOM, extra columns ignored, a blank cell means
the column's default. Numbers go straight to Decimal. Every row keeps its file and line for messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

from ..core.errors import Problem, Source
from ..core.model import AssetRow, Exports, TimeRow, UsageRow, UserRow
from ..core.money import ZERO, parse_decimal
from ..core.month import Month
from .config import relative_name
from .fields import BOOL_WORDS

EXPORT_FILES = {
    "users.csv": (("account", "user_id"), ("name", "email", "active")),
    "assets.csv": (("account", "asset_id", "type"), ("hostname", "backup_tb")),
    "tickets.csv": (("account", "ticket", "date", "hours"), ("subject", "billable")),
    "usage.csv": (("account", "service", "quantity"), ("description",)),
}


class _Row:
    """One CSV record with its line and typed cell access; problems go to the shared list."""

    __slots__ = ("cells", "source", "problems")

    def __init__(self, cells: dict, source: Source, problems: list[Problem]):
        self.cells, self.source, self.problems = cells, source, problems

    def text(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            self.error(f"empty '{column}'", f"every row needs a {column}")
        return value

    def decimal(self, column: str, default: Decimal | None = None) -> Decimal | None:
        raw = self.text(column)
        if not raw:
            if default is None:
                self.error(f"empty '{column}'", "write a number, e.g. 1.5")
            return default
        try:
            value = parse_decimal(raw)
        except ValueError:
            self.error(f"'{column}' is '{raw}', which is not a number", "write it like 1.5")
            return default
        if value < 0:
            self.error(f"'{column}' is negative ({raw})", "quantities must be 0 or more")
            return default
        return value

    def boolean(self, column: str, default: bool) -> bool:
        raw = self.text(column).lower()
        if not raw:
            return default
        if raw not in BOOL_WORDS:
            self.error(f"'{column}' is '{raw}'", "write true/false, yes/no or 1/0")
            return default
        return BOOL_WORDS[raw]

    def error(self, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.source, message, hint))


def _records(path: Path, name: str, required: tuple, problems: list[Problem]) -> Iterator[_Row]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
        text = handle.read()
        handle.close()
    except UnicodeDecodeError as exc:
        problems.append(Problem(Source(name), f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                "export it as UTF-8 CSV"))
        return
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(Source(name, 1), "the file is empty; it needs at least a header row",
                                "header: " + ",".join(required)))
        return
    columns = [c.strip().lower() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(Problem(Source(name, 1), f"missing required column(s): {', '.join(missing)}",
                                f"the header row must name {', '.join(required)} (found: {', '.join(columns)})"))
        return
    line = 1
    try:
        for record in reader:
            start = line + 1
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            yield _Row(dict(zip(columns, record)), Source(name, start), problems)
    except csv.Error as exc:
        problems.append(Problem(Source(name, reader.line_num), f"CSV error: {exc}", "check the quotes on this line"))


def _read(folder: Path, root: Path, file: str, build: Callable[[_Row], object], problems: list[Problem]) -> list:
    path = folder / file
    if not path.exists():
        return []
    name = relative_name(path, root)
    rows = []
    for record in _records(path, name, EXPORT_FILES[file][0], problems):
        row = build(record)
        if row is not None:
            rows.append(row)
    return rows


def _user(r: _Row) -> UserRow | None:
    account, user_id = r.required("account"), r.required("user_id")
    row = UserRow(account, user_id, r.text("name"), r.text("email"), r.boolean("active", True), r.source)
    return row if account and user_id else None


def _asset(r: _Row) -> AssetRow | None:
    account, asset_id, kind = r.required("account"), r.required("asset_id"), r.required("type")
    backup = r.decimal("backup_tb", ZERO)
    return AssetRow(account, asset_id, r.text("hostname"), kind, backup, r.source) if account and asset_id and kind else None


def _usage(r: _Row) -> UsageRow | None:
    account, service = r.required("account"), r.required("service")
    quantity = r.decimal("quantity")
    if not (account and service and quantity is not None):
        return None
    return UsageRow(account, service, quantity, r.text("description"), r.source)


def parse_when(text: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An ISO date or datetime as a datetime in `zone`; an offset (or Z) is converted, a naive time is local."""
    value = text.strip()
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        return dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    when = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if " " in value and "T" not in value else value)
    if when.tzinfo is None:
        return when.replace(tzinfo=zone)
    return when.astimezone(zone)


def _ticket_builder(month: Month, zone: zoneinfo.ZoneInfo):
    def build(r: _Row) -> TimeRow | None:
        account, ticket, raw_date = r.required("account"), r.required("ticket"), r.required("date")
        hours = r.decimal("hours")
        billable = r.boolean("billable", True)
        if not raw_date:
            return None
        try:
            when = parse_when(raw_date, zone)
        except ValueError:
            r.error(f"'date' is '{raw_date}', which is not a date", "write 2024-10-15 or 2024-10-15T14:30:00-04:00")
            return None
        if Month.of(when.date()) != month:
            r.error(f"time entry dated {when.date()} ({zone.key}) is outside {month}",
                    f"move it to exports/{Month.of(when.date())}/tickets.csv; every row must fall in the month")
            return None
        if not (account and ticket and hours is not None):
            return None
        return TimeRow(account, ticket, r.text("subject"), when, hours, billable, r.source)

    return build


def read_exports(root: Path, month: Month, timezone: str) -> tuple[Exports, list[Problem]]:
    """The month's exports and the problems found; absent files are simply empty."""
    problems: list[Problem] = []
    folder = root / "exports" / str(month)
    zone = zoneinfo.ZoneInfo(timezone)
    users = _read(folder, root, "users.csv", _user, problems)
    assets = _read(folder, root, "assets.csv", _asset, problems)
    tickets = _read(folder, root, "tickets.csv", _ticket_builder(month, zone), problems)
    usage = _read(folder, root, "usage.csv", _usage, problems)
    _duplicates(users, "user_id", problems)
    _duplicates(assets, "asset_id", problems)
    exports = Exports(month, tuple(users), tuple(assets), tuple(tickets), tuple(usage))
    return exports, problems


def _duplicates(rows: list, column: str, problems: list[Problem]) -> None:
    counts = Counter(getattr(row, column) for row in rows)
    first: dict[str, Source] = {}
    for row in rows:
        key = getattr(row, column)
        if counts[key] > 1:
            if key in first:
                problems.append(Problem(row.source, f"duplicate {column} '{key}' (first on line {first[key].line})",
                                        "each row must have its own id; remove or renumber the repeat"))
            else:
                first[key] = row.source
