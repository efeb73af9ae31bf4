"""Read a month's inventory and usage exports (users, assets, tickets, usage CSV) into core rows.

Header row required, column order free, UTF-8 with or without BOM, extra columns ignored, a blank cell means
the column's default. Numbers go straight to Decimal. Every row keeps its file and line for messages.
"""

from __future__ import annotations

import datetime as dt
import functools
import marshal
import re
import zoneinfo
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from ..core.errors import Problem, Source
from ..core.model import AssetRow, Exports, TimeRow, UsageRow, UserRow
from ..core.money import (
    DEFAULT_FORMAT,
    NUMBER_EXAMPLES,
    ZERO,
    number_problem,
    parse_number,
)
from ..core.month import Month
from ..filecache import cached, kept, register_codec
from .csvfile import open_csv
from .fields import BOOL_WORDS
from .sources import present, relative_name

EXPORT_FILES = {
    "users.csv": (("account", "user_id"), ("name", "email", "active")),
    "assets.csv": (("account", "asset_id", "type"), ("hostname", "backup_tb")),
    "tickets.csv": (("account", "ticket", "date", "hours"), ("subject", "billable")),
    "usage.csv": (("account", "service", "quantity"), ("description",)),
}


# Numbers that need no more checks (below 999,999,999.99, at most 10 decimals, not negative): digits alone mean
# the same in every number_format; digits with a decimal dot only in the default one.
_SIMPLE = {DEFAULT_FORMAT: re.compile(r"\d{1,9}(?:\.\d{1,10})?\Z")}
_DIGITS_ONLY = re.compile(r"\d{1,9}\Z")


class _Cells:
    """Typed access to the cells of one file's rows, by column name, with problems recorded per row.

    Column positions are looked up once per file. Every row gets one extra empty cell at the end, and an
    optional column missing from the header points there, so a missing column reads as blank.
    """

    def __init__(self, columns: list[str], problems: list[Problem], style: str = DEFAULT_FORMAT):
        self.problems = problems
        self.style = style
        self.simple = _SIMPLE.get(style, _DIGITS_ONLY)
        self.pos: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        self.numbers: dict[str, Decimal] = {}
        for position, column in enumerate(columns):
            self.pos.setdefault(column, position)

    def col(self, column: str) -> int:
        return self.pos.get(column, -1)

    def error(self, source: Source, message: str, hint: str = "") -> None:
        self.problems.append(Problem(source, message, hint))

    def required(self, value: str, column: str, source: Source) -> str:
        if not value:
            self.error(source, f"empty '{column}'", f"every row needs a {column}")
        return value

    def shared(self, text: str) -> str:
        """One string object for every equal cell of the file (accounts, types: repeated on many rows)."""
        return self.texts.setdefault(text, text)

    def decimal(self, value: str, column: str, source: Source, default: Decimal | None = None) -> Decimal | None:
        found = self.numbers.get(value)
        if found is not None:  # a number seen before in this file: the same (immutable) Decimal
            return found
        if self.simple.match(value):  # the common case, fast
            found = self.numbers[value] = Decimal(value)
            return found
        if not value:
            if default is None:
                self.error(source, f"empty '{column}'", "write a number, e.g. 1.5")
            return default
        try:
            number = parse_number(value, self.style)
        except ValueError as exc:
            self.error(source, f"'{column}': {exc}",
                       f"write it like {NUMBER_EXAMPLES[self.style]}, or set number_format in settings.yaml to the "
                       "format of your exports")
            return default
        if why := number_problem(number):
            self.error(source, f"'{column}': {why}")
            return default
        if number < 0:
            self.error(source, f"'{column}' is negative ({value})", "quantities must be 0 or more")
            return default
        return number

    def boolean(self, value: str, column: str, source: Source, default: bool) -> bool:
        if not value:
            return default
        word = BOOL_WORDS.get(value.lower())
        if word is None:
            self.error(source, f"'{column}' is '{value}'", "write true/false, yes/no or 1/0")
            return default
        return word


def _records(path: Path, name: str, required: tuple, problems: list[Problem]):
    """(column names, iterator of (stripped cells + one blank, Source)), or None when the file is unusable."""
    opened = open_csv(path, name, problems, "export it as UTF-8 CSV", required)
    if opened is None:
        return None
    columns, records = opened
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(Problem(Source(name, 1), f"missing required column(s): {', '.join(missing)}",
                                f"the header row must name {', '.join(required)} (found: {', '.join(columns)})"))
        return None
    count = len(columns)
    strip = str.strip

    def rows():
        for record, start in records:
            cells = list(map(strip, record[:count]))
            if len(cells) < count:
                cells.extend([""] * (count - len(cells)))
            cells.append("")
            yield cells, Source(name, start)

    return columns, rows()


UNIQUE_ID = {"users.csv": "user_id", "assets.csv": "asset_id"}  # a column no two rows of the file may share


def _read(folder: Path, root: Path, file: str, builder: Callable, problems: list[Problem],
          style: str = DEFAULT_FORMAT, depends=None) -> list:
    """Rows of one export file built by `builder(cells_helper)`, which returns a function of (cells, source)."""
    path = folder / file
    if not present(path):
        return []
    return cached("export", path, depends, problems, lambda found: _read_file(path, root, file, builder, found, style))


def _read_file(path: Path, root: Path, file: str, builder: Callable, problems: list[Problem], style: str) -> list:
    opened = _records(path, relative_name(path, root), EXPORT_FILES[file][0], problems)
    if opened is None:
        return []
    columns, records = opened
    build = builder(_Cells(columns, problems, style))
    rows = [row for row in (build(cells, source) for cells, source in records) if row is not None]
    if file in UNIQUE_ID:
        _duplicates(rows, UNIQUE_ID[file], problems)
    return rows


def _users(c: _Cells):
    account, user_id, name, email, active = map(c.col, ("account", "user_id", "name", "email", "active"))

    def build(cells: list[str], source: Source) -> UserRow | None:
        a = c.shared(cells[account]) or c.required("", "account", source)
        u = cells[user_id] or c.required("", "user_id", source)
        is_active = c.boolean(cells[active], "active", source, True)
        return UserRow(a, u, cells[name], cells[email], is_active, *source) if a and u else None

    return build


def _assets(c: _Cells):
    account, asset_id, hostname, kind, backup = map(c.col, ("account", "asset_id", "hostname", "type", "backup_tb"))

    def build(cells: list[str], source: Source) -> AssetRow | None:
        a = c.shared(cells[account]) or c.required("", "account", source)
        i = cells[asset_id] or c.required("", "asset_id", source)
        t = c.shared(cells[kind]) or c.required("", "type", source)
        tb = c.decimal(cells[backup], "backup_tb", source, ZERO) if cells[backup] else ZERO
        return AssetRow(a, i, cells[hostname], t, tb if tb is not None else ZERO, *source) if a and i and t else None

    return build


def _usage(c: _Cells):
    account, service, quantity, description = map(c.col, ("account", "service", "quantity", "description"))

    def build(cells: list[str], source: Source) -> UsageRow | None:
        a = c.required(c.shared(cells[account]), "account", source)
        s = c.required(c.shared(cells[service]), "service", source)
        q = c.decimal(cells[quantity], "quantity", source)
        return UsageRow(a, s, q, cells[description], *source) if a and s and q is not None else None

    return build


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


def _tickets(month: Month, zone: zoneinfo.ZoneInfo):
    def builder(c: _Cells):
        account, ticket, subject, date, hours, billable = map(
            c.col, ("account", "ticket", "subject", "date", "hours", "billable"))

        def build(cells: list[str], source: Source) -> TimeRow | None:
            a = c.shared(cells[account]) or c.required("", "account", source)
            t = cells[ticket] or c.required("", "ticket", source)
            raw = cells[date] or c.required("", "date", source)
            h = c.decimal(cells[hours], "hours", source)
            is_billable = c.boolean(cells[billable], "billable", source, True)
            if not raw:
                return None
            try:
                when = parse_when(raw, zone)
            except ValueError:
                c.error(source, f"'date' is '{raw}', which is not a date",
                        "write 2024-10-15 or 2024-10-15T14:30:00-04:00")
                return None
            except OverflowError:  # 9999-12-31T23:30:00-04:00 is in year 10000 in some zone: found by the fuzz
                c.error(source, f"'date' is '{raw}', which is out of range",
                        "write 2024-10-15 or 2024-10-15T14:30:00-04:00")
                return None
            if when.year != month.year or when.month != month.month:
                other = Month.of(when.date())
                c.error(source, f"time entry dated {when.date()} ({zone.key}) is outside {month}",
                        f"move it to exports/{other}/tickets.csv; every row must fall in the month")
                return None
            if not (a and t and h is not None):
                return None
            return TimeRow(a, t, cells[subject], when, h, is_billable, *source)

        return build

    return builder


def read_exports(root: Path, month: Month, timezone: str, style: str = DEFAULT_FORMAT) -> tuple[Exports, list[Problem]]:
    """The month's exports and the problems found; absent files are simply empty. Numbers are read in `style`
    (settings.number_format)."""
    problems: list[Problem] = []
    folder = root / "exports" / str(month)
    zone = zoneinfo.ZoneInfo(timezone)
    if present(folder) and not folder.is_dir():
        problems.append(Problem(Source(f"exports/{month}"), "is not a folder", "exports/YYYY-MM/ holds the CSVs"))
        return Exports(month), problems
    depends = _depends(month, timezone, style)
    users = _read(folder, root, "users.csv", _users, problems, style, depends)
    assets = _read(folder, root, "assets.csv", _assets, problems, style, depends)
    tickets = _read(folder, root, "tickets.csv", _tickets(month, zone), problems, style, depends)
    usage = _read(folder, root, "usage.csv", _usage, problems, style, depends)
    exports = Exports(month, tuple(users), tuple(assets), tuple(tickets), tuple(usage))
    return exports, problems


def exports_kept(root: Path, month: Month, timezone: str, style: str = DEFAULT_FORMAT) -> bool:
    """Whether every export file of the month is in the active cache as it is now: reading them is then only
    unpacking what was kept (filecache)."""
    folder = root / "exports" / str(month)
    depends = _depends(month, timezone, style)
    return all(kept("export", folder / file, depends) for file in EXPORT_FILES if present(folder / file))


def _depends(month: Month, timezone: str, style: str) -> tuple:
    """What else an export's rows are read against (filecache `depends`)."""
    return (style, timezone, str(month))


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


# --- kept between runs (filecache.py): the rows of one export file as plain tuples, for marshal ---------------


PACK_CHUNK = 20_000  # rows packed and marshalled at a time: the tuples of all 750,000 rows of 10,000 clients at
# once were 110 MB more at the bill's peak


def _pack(rows: list, depends) -> tuple:
    """(file, kind of row, [marshalled chunks of tuples]): strings, bools and ints as they are, numbers as text,
    times as the repo's wall clock (_wall), the file name once and each row's line."""
    if not rows:
        return ("", "", [])
    kind = type(rows[0]).__name__
    file = rows[0].file
    if any(row.file != file for row in rows):
        raise ValueError("rows of one export from several files")  # never kept: read the file again next time
    packer, zone = _PACKERS[kind], zoneinfo.ZoneInfo(depends[1])
    return (file, kind, [marshal.dumps(packer(rows[start:start + PACK_CHUNK], zone))
                         for start in range(0, len(rows), PACK_CHUNK)])


_PACKERS: dict[str, Callable[[list, zoneinfo.ZoneInfo], list[tuple]]] = {
    "UserRow": lambda rows, _: [(r.account, r.user_id, r.name, r.email, r.active, r.line) for r in rows],
    "AssetRow": lambda rows, _: [(r.account, r.asset_id, r.hostname, r.type, str(r.backup_tb), r.line)
                                 for r in rows],
    "TimeRow": lambda rows, zone: [(r.account, r.ticket, r.subject, *_wall(r.when, zone), str(r.hours), r.billable,
                                    r.line) for r in rows],
    "UsageRow": lambda rows, _: [(r.account, r.service, str(r.quantity), r.description, r.line) for r in rows],
}


def _wall(when: dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[int, int, int, int, int, int, int, int]:
    """A ticket's time as the wall clock of the repo's time zone shows it, with the fold that tells the hour the
    clocks go back from the hour before: put back with that zone, the same datetime (and 4x faster than from an
    epoch time, 20,000 tickets per 1,000 clients)."""
    if when.tzinfo is not zone:  # the reader gives every time in the repo's zone; anything else, converted
        when = when.astimezone(zone)
    return (when.year, when.month, when.day, when.hour, when.minute, when.second, when.microsecond, when.fold)


def _unpack(data: tuple, depends) -> list:
    file, kind, chunks = data
    if kind == "":
        return []
    if kind not in _PACKERS:
        raise ValueError(f"unknown kind of export row {kind!r}")
    dec = functools.lru_cache(maxsize=None)(Decimal)  # one Decimal per distinct number, as when the file is read
    zone = zoneinfo.ZoneInfo(depends[1])
    when = dt.datetime
    rows: list = []
    for chunk in chunks:
        packed = marshal.loads(chunk)
        if kind == "UserRow":
            rows += [UserRow(a, u, n, e, act, file, line) for a, u, n, e, act, line in packed]
        elif kind == "AssetRow":
            rows += [AssetRow(a, i, h, t, dec(tb), file, line) for a, i, h, t, tb, line in packed]
        elif kind == "TimeRow":
            rows += [TimeRow(a, t, s, when(y, mo, d, hh, mm, ss, us, zone, fold=fold), dec(h), b, file, line)
                     for a, t, s, y, mo, d, hh, mm, ss, us, fold, h, b, line in packed]
        else:
            rows += [UsageRow(a, s, dec(q), d, file, line) for a, s, q, d, line in packed]
    return rows


register_codec("export", _pack, _unpack)
