"""Money: Decimal only, rounded half-up to the cent at the defined points (see docs/DECISIONS.md)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

CENT = Decimal("0.01")
ZERO = Decimal("0")
LIMIT = Decimal("999999999.99")  # the largest amount, rate or quantity read from any input (under a billion)


def cents(value: Decimal) -> Decimal:
    """Round half-up to two decimals: 3.085 -> 3.09, -3.085 -> -3.09 (away from zero on a half)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, rate: Decimal) -> Decimal:
    """The one rule for every invoice line: quantity x rate, rounded half-up to the cent."""
    return cents(quantity * rate)


NUMBER_FORMATS = {  # style -> (thousands separators, decimal mark)
    "1,234.56": (",", "."),
    "1 234,56": (" \u00a0\u202f", ","),
    "1.234,56": (".", ","),
}
DEFAULT_FORMAT = "1,234.56"
NUMBER_EXAMPLES = {"1,234.56": "1234.5 or 1,234.5", "1 234,56": "1234,5 or 1 234,5", "1.234,56": "1234,5 or 1.234,5"}
_SYMBOLS = ("US$", "CA$", "C$", "$", "€", "£")


def _number_pattern(style: str) -> re.Pattern:
    groups, mark = NUMBER_FORMATS[style]
    sep = "[" + re.escape(groups) + "]"
    return re.compile(rf"^(?:\d{{1,3}}(?:{sep}\d{{3}})+|\d+)?(?:{re.escape(mark)}\d+)?$")


_PATTERNS = {style: _number_pattern(style) for style in NUMBER_FORMATS}
_DIGITS = re.compile(r"\d{1,15}\Z")  # digits alone mean the same in every style
_PLAIN = re.compile(r"\d{1,15}\.\d{1,15}\Z")  # digits with a decimal dot: the default style


def parse_number(text: str, style: str = DEFAULT_FORMAT) -> Decimal:
    """A number written in one documented `style` (see NUMBER_FORMATS), straight to Decimal, never via float.

    A sign, a currency symbol and parentheses for a negative amount are allowed. A thousands separator is only
    read between groups of three digits, so in the default style `150,00` or `1,5` is an error, never 15000 or
    15; the other style's marks are errors too (`1.234,56` in the default style). Raises ValueError saying why.
    """
    if _DIGITS.match(text) or (style == DEFAULT_FORMAT and _PLAIN.match(text)):  # the common case, fast
        return Decimal(text)
    raw = text
    cleaned = text.strip()
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1].strip()
    if cleaned and cleaned[0] in "+-":
        negative, cleaned = negative or cleaned[0] == "-", cleaned[1:].strip()
    for symbol in _SYMBOLS:
        if cleaned.startswith(symbol):
            cleaned = cleaned[len(symbol):].strip()
            break
        if cleaned.endswith(symbol):
            cleaned = cleaned[: -len(symbol)].strip()
            break
    if cleaned and cleaned[0] in "+-" and not negative:
        negative, cleaned = cleaned[0] == "-", cleaned[1:].strip()
    groups, mark = NUMBER_FORMATS[style]
    if not cleaned or not any(ch.isdigit() for ch in cleaned) or not _PATTERNS[style].match(cleaned):
        raise ValueError(_why_not(raw, cleaned, style))
    digits = "".join(ch for ch in cleaned if ch not in groups).replace(mark, ".")
    value = Decimal(digits)
    return -value if negative else value


def _why_not(raw: str, cleaned: str, style: str) -> str:
    if re.fullmatch(r"[\d.,]+[eE][-+]?\d+", cleaned):
        return f"'{raw}' is written with an exponent; write the number out in full"
    other = next((s for s in NUMBER_FORMATS if s != style and _PATTERNS[s].match(cleaned) and cleaned), None)
    if other:
        return f"'{raw}' is not a number in the format {style} (it would be in the format {other})"
    return f"'{raw}' is not a number in the format {style}"


def parse_decimal(text: str) -> Decimal:
    """A number as typed in the default style (`1234.56`, `1,234.56`, `.5`); raises ValueError saying why not."""
    return parse_number(text, DEFAULT_FORMAT)


MAX_DECIMALS = 10


def number_problem(value: Decimal) -> str:
    """Why a number read from any input cannot be used (too large, too many decimals), or ""."""
    if not value.is_finite():
        return f"'{value}' is not a finite number"
    if abs(value) > LIMIT:
        return f"'{_shown(value)}' is too large (the largest number otb reads is 999,999,999.99)"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        return f"'{_shown(value)}' has more than {MAX_DECIMALS} decimals"
    return ""


def _shown(value: Decimal) -> str:
    text = plain(value)
    return text if len(text) <= 24 else text[:24] + "..."


def check_amount(amount: Decimal) -> str:
    """Why `amount` cannot be a payment or credit (more than zero, cents at most, under a billion), or ""."""
    if not amount.is_finite() or amount <= 0:
        return "must be more than zero"
    if amount > LIMIT:
        return "is more than 999,999,999.99, the largest amount otb takes"
    if amount != amount.quantize(CENT):
        return "has more than two decimals; amounts are in cents"
    return ""


def plain(value: Decimal) -> str:
    """A Decimal as plain digits, never in exponent form: 0.0000001 stays 0.0000001 (str() would give 1E-7,
    which Beancount cannot read)."""
    return format(value, "f")


def fmt_money(amount: Decimal) -> str:
    """Plain two-decimal text for machines: JSON, CSV and the ledger (`-1234.50`)."""
    return _money_text(str(amount))


# The formatters below are memoized by the number's own text (never by equality: 1.0 and 1.00, 0 and -0 are
# equal and may print differently): a month's 70,000 lines repeat a few hundred rates, quantities and amounts.


@lru_cache(maxsize=16384)
def _money_text(text: str) -> str:
    return f"{cents(Decimal(text)):.2f}"


def fmt_display(amount: Decimal, symbol: str = "$") -> str:
    """Text for people: `$1,234.56`, `-$20.00`."""
    value = cents(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


def rate_places(rate: Decimal) -> int:
    """Decimals a rate is shown with: two, or as many as it really has (12.345 per user, 0.0005 per request), so
    quantity x the rate shown = the amount, to the cent, on every output."""
    exponent = rate.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2


def fmt_rate(rate: Decimal) -> str:
    """A rate for machines (JSON, CSV): `15.00`, `12.345`, `0.0005`. The one rate format (see rate_places)."""
    return _rate_text(str(rate))


@lru_cache(maxsize=4096)
def _rate_text(text: str) -> str:
    rate = Decimal(text)
    return f"{rate:.{rate_places(rate)}f}"


def fmt_quantity(quantity: Decimal) -> str:
    """A quantity without float noise or needless zeros: 1, 12.5, 0.1234."""
    return _quantity_text(str(quantity))


@lru_cache(maxsize=4096)
def _quantity_text(text: str) -> str:
    quantity = Decimal(text)
    if quantity == quantity.to_integral_value():
        return str(quantity.quantize(Decimal(1)))
    text = format(quantity, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
