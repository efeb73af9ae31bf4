"""A vendor's export read through an import profile (readers/profiles.py) into rows of one of otb's export kinds.

Each row finds its client by the organization, site or company the vendor names (a client's name, one of its
`match:` names, or its account, case and spacing aside), values are mapped (`Desktop` -> workstation), numbers are
read in the vendor's format and dates in its format and time zone. Nothing is dropped without a word: rows of an
organization no client matches, rows the profile skips, and time rows of another month are counted and reported.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import zoneinfo
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from ..core.errors import Problem, Source
from ..core.model import Client
from ..core.money import NUMBER_FORMATS, number_problem, parse_number, plain
from ..core.month import Month
from .csvfile import open_csv
from .fields import BOOL_WORDS
from .profiles import SKIP, ImportProfile
from .sources import relative_name

NUMERIC = ("backup_tb", "hours", "quantity")


class Imported(NamedTuple):
    rows: dict[Month, list[dict[str, str]]]  # normalized rows (otb's columns, account filled) by the month they are in
    unmatched: Counter  # vendor organization -> rows
    skipped: Counter  # (vendor column, value) -> rows
    by_client: Counter  # account -> rows
    warnings: list[Problem]


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def client_index(clients: tuple[Client, ...], problems: list[Problem]) -> dict[str, str]:
    """Every name a client answers to in vendor exports (name, `match:` names, account) -> its account."""
    index: dict[str, str] = {}
    for client in clients:
        for name in (client.name, client.account, *client.match):
            key = _key(name)
            if key in index and index[key] != client.account:
                problems.append(Problem(client.source, f"'{name}' also names client {index[key]}",
                                        "each match: name must belong to one client"))
            index.setdefault(key, client.account)
    return index


def format_number(value, style: str) -> str:
    """A number as otb's export reader reads it in `style`: no thousands separator, the style's decimal mark."""
    text = plain(value)
    return text.replace(".", NUMBER_FORMATS[style][1])


def read_vendor_files(root: Path, profile: ImportProfile, files: list[Path], month: Month, clients: tuple[Client, ...],
                      timezone: str, style: str, problems: list[Problem], only_account: str = "") -> Imported:
    """The files' rows in otb's columns, by month; problems (file:line) for what cannot be read."""
    index = client_index(clients, problems)
    home = zoneinfo.ZoneInfo(timezone)
    vendor_zone = zoneinfo.ZoneInfo(profile.timezone) if profile.timezone else home
    rows: dict[Month, list[dict[str, str]]] = defaultdict(list)
    unmatched: Counter[str] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    by_client: Counter[str] = Counter()
    warnings: list[Problem] = []
    for path in files:
        name = relative_name(path, root)
        if profile.files and not any(fnmatch.fnmatch(path.name, pattern) for pattern in profile.files):
            warnings.append(Problem(Source(name), f"the name does not look like a {profile.title} export "
                                    f"({', '.join(profile.files)})", "check --profile"))
        opened = open_csv(path, name, problems, f"save it as {profile.encoding} CSV", delimiter=profile.delimiter,
                          encoding=profile.encoding, lower=False)
        if opened is None:
            continue
        header, records = opened
        where = {column.casefold(): k for k, column in enumerate(header)}
        needed = [profile.client_column or profile.account_column, *profile.columns.values(), *profile.skip]
        missing = [c for c in needed if c and c.casefold() not in where]
        if missing:
            problems.append(Problem(Source(name, 1), f"missing column(s) {', '.join(missing)} that the profile "
                                    f"'{profile.name}' reads", f"found: {', '.join(header)}"))
            continue

        def cell(record: list[str], column: str, where: dict = where) -> str:
            at = where[column.casefold()]
            return record[at].strip() if at < len(record) else ""

        for record, line in records:
            source = Source(name, line)
            if any(cell(record, column).casefold() in values for column, values in profile.skip.items()):
                for column in profile.skip:
                    skipped[(column, cell(record, column))] += 1
                continue
            if only_account:
                account = only_account
            elif profile.account_column:
                account = index.get(_key(cell(record, profile.account_column)), "")
                if not account:
                    unmatched[cell(record, profile.account_column)] += 1
                    continue
            else:
                organization = cell(record, profile.client_column)
                account = index.get(_key(organization), "")
                if not account:
                    unmatched[organization] += 1
                    continue
            out = {"account": account}
            skip = False
            for ours in profile.our_columns:
                if ours == "account":
                    continue
                if ours in profile.columns:
                    value = cell(record, profile.columns[ours])
                else:
                    value = profile.defaults.get(ours, "")
                mapping = profile.values.get(ours)
                if mapping is not None and value:
                    mapped = mapping.get(value.casefold())
                    if mapped == SKIP:
                        skipped[(profile.columns[ours], value)] += 1
                        skip = True
                        break
                    if mapped is not None:
                        value = mapped
                    elif ours in ("active", "billable") and value.lower() not in BOOL_WORDS:
                        problems.append(Problem(source, f"{profile.columns[ours]} is '{value}', which the profile "
                                                f"'{profile.name}' does not map to true or false",
                                                f"add it under values: {ours}: in the profile"))
                        skip = True
                        break
                if ours in NUMERIC and value:
                    try:
                        number = parse_number(value, profile.number_format)
                    except ValueError as exc:
                        problems.append(Problem(source, f"'{profile.columns.get(ours, ours)}': {exc}",
                                                f"set number_format in the profile '{profile.name}'"))
                        skip = True
                        break
                    if why := number_problem(number):
                        problems.append(Problem(source, f"'{profile.columns.get(ours, ours)}': {why}"))
                        skip = True
                        break
                    value = format_number(number, style)
                out[ours] = value
            if skip:
                continue
            row_month = month
            if profile.kind == "tickets":
                when = _when(out.get("date", ""), profile.date_format, vendor_zone, home)
                if when is None:
                    problems.append(Problem(source, f"'{profile.columns.get('date', 'date')}' is '{out.get('date')}', "
                                            "which is not a date" + (f" in the format {profile.date_format}"
                                                                     if profile.date_format else ""),
                                            f"set date_format in the profile '{profile.name}'"))
                    continue
                out["date"] = when.isoformat()
                row_month = Month.of(when if isinstance(when, dt.date) and not isinstance(when, dt.datetime)
                                     else when.date())
            rows[row_month].append(out)
            by_client[account] += 1
    return Imported(dict(rows), unmatched, skipped, by_client, warnings)


def _when(text: str, date_format: str, zone: zoneinfo.ZoneInfo, home: zoneinfo.ZoneInfo):
    """A vendor's date and time in the settings' zone, or just its date when it has no time (a day is a day
    wherever it is read); None if it cannot be read."""
    try:
        if date_format:
            when = dt.datetime.strptime(text, date_format)
            if not any(code in date_format for code in ("%H", "%I", "%M")):
                return when.date() if 1970 <= when.year <= 2999 else None
        elif len(text) == 10:
            day = dt.date.fromisoformat(text)
            return day if 1970 <= day.year <= 2999 else None
        else:
            when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    try:
        local = when.astimezone(home)
    except OverflowError:  # 9999-12-31T23:30:00-04:00 falls in year 10000 in some zones
        return None
    return local if 1970 <= local.year <= 2999 else None
