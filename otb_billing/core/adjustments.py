"""Lines that adjust a month's charges: proration of a contract that starts or ends mid-month, and discounts.

Both are lines of their own, so an invoice shows what was charged and what was taken off, and every line keeps
quantity x rate = amount (quantity 1, a negative rate).

Proration (opt-in, `proration: daily` in the plan or the client): in the month a contract starts or ends on a day
other than the month's first or last, each recurring charge (users, devices, backup, monthly line items and
recurring catalog items) is charged for the days covered: prorated = total x days covered / days in the month,
rounded half-up to the cent once per income account, and a line takes off the rest. Support hours, one-off items
and metered usage are what they are, never prorated.

Discounts (in the client file): a percentage or an amount, on some categories or the whole invoice, from/until a
month. A percentage is taken off the lines it covers, half-up to the cent; an amount never more than those lines.
A discount is split between taxable and non-taxable lines in proportion, so tax is computed on what is charged.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from .model import DEVICE_PLURALS, Discount, Line
from .money import ZERO, cents, fmt_quantity
from .month import Month

DEVICE_CATEGORIES = tuple(DEVICE_PLURALS.values()) + ("devices",)
RECURRING = ("users", *DEVICE_CATEGORIES, "backup")
DISCOUNT_SCOPES = {
    "users": ("users",), "devices": DEVICE_CATEGORIES, **{c: (c,) for c in DEVICE_PLURALS.values()},
    "backup": ("backup",), "support": ("support",), "line_items": ("item:", "service:"), "all": (),
}
LABELS = {"users": "Users", "workstations": "Workstations", "servers": "Servers", "vms": "Virtual machines",
          "switches": "Switches", "firewalls": "Firewalls", "devices": "Devices (custom rate)", "backup": "Backup"}


def covered_days(month: Month, start: dt.date | None, end: dt.date | None) -> int:
    """Days of `month` inside the contract (start and end days included)."""
    first = max(month.first_day, start) if start else month.first_day
    last = min(month.last_day, end) if end else month.last_day
    return max(0, (last - first).days + 1)


def prorate(lines: Sequence[Line], recurring: Iterable[str], month: Month, start: dt.date | None,
            end: dt.date | None) -> list[Line]:
    """The lines that take off the days outside the contract from each recurring income account."""
    days = calendar.monthrange(month.year, month.month)[1]
    covered = covered_days(month, start, end)
    if covered >= days:
        return []
    recurring = set(recurring)
    reasons = []
    if start and start > month.first_day:
        reasons.append(f"contract from {start}")
    if end and end < month.last_day:
        reasons.append(f"contract to {end}")
    why = ", ".join(reasons)
    totals: dict[tuple[str, bool, str], Decimal] = {}
    for line in lines:
        if line.category in recurring or line.category in RECURRING:
            key = (line.category, line.taxable, line.item)
            totals[key] = totals.get(key, ZERO) + line.amount
    out = []
    for (category, taxable, item), total in totals.items():
        off = cents(total * covered / days) - total
        if off:
            label = LABELS.get(category, category.partition(":")[2] or category)
            out.append(Line(category, f"{label}: {covered} of {days} days ({why})", Decimal(1), off, off, taxable,
                            item))
    return out


def _covers(discount: Discount, line: Line) -> bool:
    if not discount.on:
        return True
    for scope in discount.on:
        for prefix in DISCOUNT_SCOPES[scope]:
            if line.category == prefix or (prefix.endswith(":") and line.category.startswith(prefix)):
                return True
    return False


def discount_lines(lines: Sequence[Line], discounts: Iterable[Discount], month: Month) -> list[Line]:
    """One line per discount in force (two when it covers taxable and non-taxable lines)."""
    out = []
    for discount in discounts:
        if not discount.applies(month):
            continue
        covered = [line for line in lines if _covers(discount, line)]
        parts = {flag: sum((ln.amount for ln in covered if ln.taxable == flag), ZERO) for flag in (True, False)}
        base = parts[True] + parts[False]
        if base <= 0:
            continue
        if discount.percent is not None:
            off = {flag: cents(value * discount.percent / 100) for flag, value in parts.items()}
            what = f"{fmt_quantity(discount.percent)}% off {_scope_text(discount)}"
        else:
            assert discount.amount is not None  # a discount has a percent or an amount (readers/clients.py)
            total = min(discount.amount, base)
            taxable = cents(total * parts[True] / base)
            off = {True: taxable, False: total - taxable}
            what = f"off {_scope_text(discount)}"
        for flag in (True, False):
            if off[flag]:
                out.append(Line("discount", f"{discount.name}: {what}", Decimal(1), -off[flag], -off[flag], flag,
                                "Discount"))
    return out


def _scope_text(discount: Discount) -> str:
    return ", ".join(s.replace("_", " ") for s in discount.on) if discount.on else "the invoice"
