"""Typed access to a posting's amount and cost.

Beancount types a posting's units, cost and their numbers as optional: a posting whose amount is left for
Beancount to fill in has none until the ledger is booked (parsed alone it holds the MISSING marker). Every entry
otb writes states its amounts, so otb reads them through these accessors, which say so once, with the types
narrowed, and turn an amount left out by a hand edit into a message with its file and line instead of a crash.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beancount.core import data


class MissingAmount(ValueError):
    """A posting otb needs the amount of has none (a hand edit left it for Beancount to fill in). `meta`: the
    posting's, for the file and line of the message."""

    def __init__(self, p: data.Posting, what: str) -> None:
        self.meta = p.meta or {}
        super().__init__(f"the posting to {p.account} has no {what}; write it out (otb reads the amounts of its "
                         "entries as written)")


def amount(p: data.Posting) -> tuple[Decimal, str]:
    """(number, currency) of the posting's units."""
    found = p.units  # an Amount, or Beancount's MISSING (a class), or None: read without importing Beancount
    number, currency = getattr(found, "number", None), getattr(found, "currency", None)
    if isinstance(number, Decimal) and isinstance(currency, str):
        return number, currency
    raise MissingAmount(p, "amount")


def number(p: data.Posting) -> Decimal:
    return amount(p)[0]


def currency(p: data.Posting) -> str:
    return amount(p)[1]


def cost_per_unit(p: data.Posting) -> Decimal:
    """The per-unit cost of a posting held at cost (a foreign-currency lot): Cost.number once booked,
    CostSpec.number_per as parsed."""
    value = getattr(p.cost, "number", None)
    if value is None:
        value = getattr(p.cost, "number_per", None)
    if not isinstance(value, Decimal):
        raise MissingAmount(p, "per-unit cost")
    return value


def cost_currency(p: data.Posting) -> str:
    found = getattr(p.cost, "currency", None)
    if not isinstance(found, str):
        raise MissingAmount(p, "cost currency")
    return found
