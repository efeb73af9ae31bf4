"""What the month's exports say: users, devices, time and usage rows, and each client's share of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from .errors import Source
from .month import Month

# --- Exports: the month's inventory and usage --------------------------------------------------------------
# A row keeps its file and line as two fields, its `source` made when asked for (a message): 750,000 rows of
# 10,000 clients, each with a Source tuple of its own, were 48 MB more.


class UserRow(NamedTuple):
    """One row of exports/MONTH/users.csv, with its file and line."""

    account: str
    user_id: str
    name: str
    email: str
    active: bool
    file: str  # the export, relative to the billing repo (one string shared by the file's rows)
    line: int

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)


class AssetRow(NamedTuple):
    """One row of exports/MONTH/assets.csv (a device), with its file and line."""

    account: str
    asset_id: str
    hostname: str
    type: str  # as exported, lower-cased; resolved against aliases when billed
    backup_tb: Decimal
    file: str  # the export, relative to the billing repo (one string shared by the file's rows)
    line: int

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)


class TimeRow(NamedTuple):
    """One row of exports/MONTH/tickets.csv (time on a ticket, in the repo's time zone)."""

    account: str
    ticket: str
    subject: str
    when: dt.datetime  # in the settings timezone
    hours: Decimal
    billable: bool
    file: str  # the export, relative to the billing repo (one string shared by the file's rows)
    line: int

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)


class UsageRow(NamedTuple):
    """One row of exports/MONTH/usage.csv (a metered service), with its file and line."""

    account: str
    service: str
    quantity: Decimal
    description: str
    file: str  # the export, relative to the billing repo (one string shared by the file's rows)
    line: int

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)


@dataclass(frozen=True, slots=True)
class Exports:
    """Everything the month's export files hold, as read (see readers/exports.py)."""

    month: Month
    users: tuple[UserRow, ...] = ()
    assets: tuple[AssetRow, ...] = ()
    tickets: tuple[TimeRow, ...] = ()
    usage: tuple[UsageRow, ...] = ()


@dataclass(frozen=True, slots=True)
class Inventory:
    """One client's share of the exports."""

    users: tuple[UserRow, ...] = ()
    assets: tuple[AssetRow, ...] = ()
    tickets: tuple[TimeRow, ...] = ()
    usage: tuple[UsageRow, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.users or self.assets or self.tickets or self.usage)
