"""Money for people, per currency, with Babel: `$1,234.56`, `US$1,234.56`, `1.234,56 €`."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency

from ..core.money import cents

LOCALES = {"EUR": "de_DE", "GBP": "en_GB", "CHF": "de_CH"}  # everything else is written the Canadian way


@lru_cache(maxsize=64)
def _pattern(currency: str) -> str:
    return LOCALES.get(currency, "en_CA")


def money(amount: Decimal, currency: str = "CAD") -> str:
    return format_currency(cents(amount), currency or "CAD", locale=_pattern(currency or "CAD"))
