"""Exchange rates: `price` directives in ledger/prices.beancount, read for billing and written by `otb fx`.

A rate is the base currency per unit of the foreign one (`2024-10-31 price USD 1.3650 CAD`). The rate for a day is
the latest one on or before it, and no older than MAX_AGE_DAYS, so a forgotten update is an error, not a guess.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from ..core.errors import Problem, Source
from ..core.money import plain

PRICES_FILE = "prices.beancount"
MAX_AGE_DAYS = 7
HEADER = ("; Exchange rates: base currency per unit of each foreign currency, written by `otb fx`.\n"
          "; Billing uses the latest rate on or before the invoice date (at most 7 days old).\n")
PRICE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}) price ([A-Z][A-Z0-9'._-]*) +(\S+) ([A-Z][A-Z0-9'._-]*)\s*$")


class Prices:
    def __init__(self, base: str):
        self.base = base
        self.rates: dict[str, list[tuple[dt.date, Decimal]]] = {}

    def add(self, currency: str, day: dt.date, rate: Decimal) -> None:
        self.rates.setdefault(currency, []).append((day, rate))
        self.rates[currency].sort()

    def latest(self, currency: str, day: dt.date) -> tuple[dt.date, Decimal] | None:
        found = None
        for when, rate in self.rates.get(currency, []):
            if when <= day:
                found = (when, rate)
        return found

    def rate_on(self, currency: str, day: dt.date) -> tuple[tuple[dt.date, Decimal] | None, str]:
        """((date, rate), "") or (None, why not) for the rate to use on `day`."""
        found = self.latest(currency, day)
        hint = f"add it: otb fx set {currency} RATE --date {day}"
        if found is None:
            return None, f"no {currency} rate on or before {day} in ledger/{PRICES_FILE} ({hint})"
        if (day - found[0]).days > MAX_AGE_DAYS:
            return None, (f"the latest {currency} rate is from {found[0]}, more than {MAX_AGE_DAYS} days before "
                          f"{day} ({hint})")
        return found, ""


def read_prices(ledger: Path, base: str, problems: list[Problem]) -> Prices:
    prices = Prices(base)
    path = ledger / PRICES_FILE
    if not path.exists():
        return prices
    from beancount.core import data
    from beancount.parser import parser

    entries, errors, _ = parser.parse_file(str(path))
    for error in errors:
        problems.append(Problem(Source(f"ledger/{PRICES_FILE}", error.source.get("lineno", 0)),
                                f"ledger: {error.message}"))
    for entry in entries:
        if isinstance(entry, data.Price) and entry.amount.currency == base and entry.amount.number is not None:
            prices.add(entry.currency, entry.date, entry.amount.number)
    return prices


def with_price(text: str, currency: str, day: dt.date, rate: Decimal, base: str) -> str:
    """The prices file with this rate set (replacing one of the same currency and day), sorted."""
    lines: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        match = PRICE_RE.match(line)
        if match:
            lines[(match.group(2), match.group(1))] = line
    lines[(currency, day.isoformat())] = f"{day} price {currency} {plain(rate)} {base}"
    return HEADER + "\n" + "\n".join(lines[key] for key in sorted(lines)) + "\n"
