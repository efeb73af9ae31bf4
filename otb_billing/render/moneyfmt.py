"""Money for people, per currency, with Babel: `$1,234.56`, `US$1,234.56`, `1.234,56 €`."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import format_currency

from ..core.money import CENT, cents, rate_places

LOCALES = {"EUR": "de_DE", "GBP": "en_GB", "CHF": "de_CH"}  # everything else is written the Canadian way


@lru_cache(maxsize=64)
def _pattern(currency: str) -> str:
    return LOCALES.get(currency, "en_CA")


# What Babel's en_CA gives for these, written directly: a table of 10,000 invoices should not wait on Babel.
FAST_SYMBOLS = {"CAD": "$", "USD": "US$"}


def money(amount: Decimal, currency: str = "CAD") -> str:
    """An amount rounded half-up to cents, with its currency's symbol."""
    symbol = FAST_SYMBOLS.get(currency or "CAD")
    if symbol is not None:  # Decimal's own digits (a status table of 120,000 invoices formats 480,000 of these)
        if not amount:
            return symbol + "0.00"
        text = f"{amount.quantize(CENT, ROUND_HALF_UP):,}"
        if text[0] != "-":
            return symbol + text
        return symbol + "0.00" if text == "-0.00" else "-" + symbol + text[1:]  # never -$0.00
    value = cents(amount)
    if not value:
        value = Decimal("0.00")  # -0.00 equals 0.00 (and hashes alike): never print "-$0.00"
    return _written(value, currency, 2)


def rate(value: Decimal, currency: str = "CAD") -> str:
    """A rate for people: money, with more than two decimals only when the rate has them (`$12.345`)."""
    places = rate_places(value)
    return money(value, currency) if places == 2 else _written(value, currency or "CAD", places)


def _written(value: Decimal, currency: str, places: int) -> str:
    symbol = FAST_SYMBOLS.get(currency)
    if symbol is not None:  # a rate of more than 2 decimals (money() writes whole cents itself)
        return f"{'-' if value < 0 else ''}{symbol}{abs(value):,.{places}f}"
    if places == 2:
        return _money(value, currency)
    return format_currency(value, currency, locale=_pattern(currency), decimal_quantization=False)


@lru_cache(maxsize=8192)
def _money(amount: Decimal, currency: str) -> str:
    """Babel is exact but slow; invoices repeat the same rates and amounts, so each is formatted once."""
    return format_currency(amount, currency, locale=_pattern(currency))
