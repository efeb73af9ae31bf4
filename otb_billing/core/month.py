"""A billing month (year, month) and the few date facts billing needs about it."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from .pickled import by_fields

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
MIN_YEAR, MAX_YEAR = 1970, 2999  # billing outside these years is a typo (and 9999-12 + terms has no due date)

MONTH_NAMES = list(calendar.month_name)


def check_date(day: dt.date) -> str:
    """Why a date cannot be a billing date (outside MIN_YEAR..MAX_YEAR), or ""."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        return f"{day} is not a date otb works with: the year must be between {MIN_YEAR} and {MAX_YEAR}"
    return ""


@by_fields
@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2024-10` -> Month(2024, 10); raises ValueError with the accepted form."""
        match = _MONTH_RE.match(str(text).strip())
        if not match:
            raise ValueError(f"'{text}' is not a month; write it as YYYY-MM, e.g. 2024-10")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"'{text}' has no month {month}; months run 01 to 12")
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"'{text}': the year must be between {MIN_YEAR} and {MAX_YEAR}")
        return cls(year, month)

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def label(self) -> str:
        """`October 2024`."""
        return f"{MONTH_NAMES[self.month]} {self.year}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def pool_year(self, starts_month: int = 1) -> int:
        """The prepaid-hours pool year this month belongs to, named by the calendar year it starts in."""
        return self.year if self.month >= starts_month else self.year - 1
