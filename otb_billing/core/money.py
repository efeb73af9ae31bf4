"""Money: Decimal only, rounded half-up to the cent at the defined points (see docs/DECISIONS.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0")
LIMIT = Decimal("999999999.99")  # the largest amount, rate or quantity read from any input (under a billion)


def cents(value: Decimal) -> Decimal:
    """Round half-up to two decimals: 3.085 -> 3.09, -3.085 -> -3.09 (away from zero on a half)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, rate: Decimal) -> Decimal:
    """The one rule for every invoice line: quantity x rate, rounded half-up to the cent."""
    return cents(quantity * rate)


def parse_decimal(text: str) -> Decimal:
    """A decimal literal as written (`1,234.50`, `1_000`, `.5`); raises ValueError on anything else.

    Never goes through float, so `0.1` stays exactly one tenth.
    """
    cleaned = text.strip().replace("_", "").replace(",", "")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not a number") from None
    if not value.is_finite():
        raise ValueError(f"'{text}' is not a finite number")
    return value


def check_amount(amount: Decimal) -> str:
    """Why `amount` cannot be a payment or credit (more than zero, cents at most, under a billion), or ""."""
    if not amount.is_finite() or amount <= 0:
        return "must be more than zero"
    if amount > LIMIT:
        return "is more than 999,999,999.99"
    if amount != amount.quantize(CENT):
        return "has more than two decimals; amounts are in cents"
    return ""


def plain(value: Decimal) -> str:
    """A Decimal as plain digits, never in exponent form: 0.0000001 stays 0.0000001 (str() would give 1E-7,
    which Beancount cannot read)."""
    return format(value, "f")


def fmt_money(amount: Decimal) -> str:
    """Plain two-decimal text for machines: JSON, CSV and the ledger (`-1234.50`)."""
    return f"{cents(amount):.2f}"


def fmt_display(amount: Decimal, symbol: str = "$") -> str:
    """Text for people: `$1,234.56`, `-$20.00`."""
    value = cents(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


def fmt_quantity(quantity: Decimal) -> str:
    """A quantity without float noise or needless zeros: 1, 12.5, 0.1234."""
    if quantity == quantity.to_integral_value():
        return str(quantity.quantize(Decimal(1)))
    text = format(quantity, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
