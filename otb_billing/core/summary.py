"""An invoice's lines as a client reads them: users and devices grouped by rate, everything else as billed.

The PDF's first page, the HTML view and the QuickBooks import file all show these lines, so they cannot disagree;
every grouped line still has quantity x rate = amount, and the lines add up to the subtotal.
"""

from __future__ import annotations

from .model import DEVICE_PLURALS, Invoice, Line
from .money import ZERO

GROUP_LABELS = {"users": "Users", **{plural: plural.capitalize() for plural in DEVICE_PLURALS.values()},
                "vms": "Virtual machines", "devices": "Devices"}


def grouped_lines(invoice: Invoice) -> tuple[Line, ...]:
    """Users and devices of one rate (and kind: free, custom rate) as one line each; other lines as they are."""
    grouped: dict[tuple, list] = {}
    order: list[tuple] = []
    for line in invoice.lines:
        if line.category in GROUP_LABELS and line.quantity == 1:
            custom = "custom rate" in line.description
            free = "(free" in line.description
            label = GROUP_LABELS[line.category] + (" (free)" if free else " (custom rate)" if custom else "")
            key: tuple = ("group", label, line.rate, line.taxable)
            if key not in grouped:
                grouped[key] = [line.category, label, ZERO, line.rate, ZERO, line.taxable, line.item]
                order.append(key)
            grouped[key][2] += 1
            grouped[key][4] += line.amount
        else:
            key = ("line", len(order))
            grouped[key] = list(line)
            order.append(key)
    return tuple(Line(*grouped[k]) for k in order)
