"""The result of a billing run for people (a table) and for programs (one JSON document)."""

from __future__ import annotations

import json
from decimal import Decimal

from ..core.model import BillResult, Invoice
from ..core.money import ZERO, fmt_display, fmt_money, fmt_quantity, fmt_rate
from .moneyfmt import money

CHANGE_FLAG = Decimal(20)  # percent





def invoice_json(invoice: Invoice, credit_applied: Decimal = ZERO) -> dict:
    totals = invoice.group_totals()
    counts = invoice.counts
    return {
        "invoice": invoice.number,
        "account": invoice.account,
        "client": invoice.client,
        "date": invoice.date.isoformat(),
        "due": invoice.due.isoformat(),
        "currency": invoice.currency,
        "status": invoice.status,
        "plan": invoice.plan,
        "term": invoice.term,
        "support_level": invoice.support_level,
        "totals": {group: fmt_money(amount) for group, amount in totals.items()},
        "subtotal": fmt_money(invoice.subtotal),
        "taxes": [
            {
                "name": t.name,
                "rate": fmt_quantity(t.rate),
                "base": fmt_money(t.base),
                "amount": fmt_money(t.amount),
                **({"amount_base": fmt_money(invoice.in_base(t.amount))} if invoice.foreign else {}),
            }
            for t in invoice.taxes
        ],
        "tax": fmt_money(invoice.tax),
        "total": fmt_money(invoice.total),
        **(
            {
                "base_currency": invoice.base_currency,
                "fx_rate": str(invoice.fx_rate),
                "fx_date": str(invoice.fx_date),
                "total_base": fmt_money(base_total(invoice)),
            }
            if invoice.foreign
            else {}
        ),
        "credit_applied": fmt_money(credit_applied),
        "amount_due": fmt_money(invoice.total - credit_applied),
        "notes": list(invoice.notes),
        "counts": {
            "users": counts.users,
            "workstations": counts.workstations,
            "servers": counts.servers,
            "vms": counts.vms,
            "switches": counts.switches,
            "firewalls": counts.firewalls,
            "hours": fmt_quantity(counts.hours),
            "billable_hours": fmt_quantity(counts.billable_hours),
            "prepaid_hours_used": fmt_quantity(counts.prepaid_hours_used),
            "backup_tb": fmt_quantity(counts.backup_tb),
        },
        "lines": [
            {
                "category": line.category,
                "description": line.description,
                "quantity": fmt_quantity(line.quantity),
                "rate": fmt_rate(line.rate),
                "amount": fmt_money(line.amount),
            }
            for line in invoice.lines
        ],
    }


def base_total(invoice: Invoice) -> Decimal:
    """The invoice total in the books' currency (at its invoice-date rate for a foreign invoice)."""
    return invoice.in_base(invoice.total)


def base_sum(invoices, field: str) -> Decimal:
    return sum((i.in_base(getattr(i, field)) for i in invoices), ZERO)


def result_json(result: BillResult, invoices: tuple[Invoice, ...] | None = None) -> str:
    invoices = result.invoices if invoices is None else invoices
    document = {
        "month": str(result.month),
        "invoices": [invoice_json(inv, result.credit_applied(inv)) for inv in invoices],
        "warnings": [str(w) for w in result.warnings],
        "totals": {  # in the books' currency: foreign invoices at their invoice-date rates
            "invoices": len(invoices),
            "subtotal": fmt_money(base_sum(invoices, "subtotal")),
            "tax": fmt_money(base_sum(invoices, "tax")),
            "total": fmt_money(base_sum(invoices, "total")),
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def change_text(total: Decimal, previous: Decimal | None) -> tuple[str, bool]:
    """(`+12.5%`, flagged?) against the previous month's invoice."""
    if previous is None:
        return "new", False
    if previous == 0:
        return ("—" if total == 0 else "from 0"), total != 0
    pct = (total - previous) / previous * 100
    return f"{pct:+.1f}%", abs(pct) > CHANGE_FLAG


def result_table(result: BillResult, invoices: tuple[Invoice, ...] | None = None) -> str:
    invoices = result.invoices if invoices is None else invoices
    rows = [("Invoice", "Client", "Subtotal", "Tax", "Total", "Previous", "Change")]
    flagged = 0
    for inv in invoices:
        previous = result.previous_totals.get(inv.account)
        change, flag = change_text(inv.total, previous)
        flagged += flag
        rows.append(
            (
                inv.number,
                inv.client[:32],
                money(inv.subtotal, inv.currency),
                money(inv.tax, inv.currency),
                money(inv.total, inv.currency),
                money(previous, inv.currency) if previous is not None else "—",
                change + (" !" if flag else ""),
            )
        )
    rows.append(
        (
            "",
            f"{len(invoices)} invoice(s)",
            fmt_display(base_sum(invoices, "subtotal")),
            fmt_display(base_sum(invoices, "tax")),
            fmt_display(base_sum(invoices, "total")),
            "",
            "",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4, 5}
    out = []
    for number, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))]
        out.append("  ".join(cells).rstrip())
        if number == 0 or number == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    if any(inv.foreign for inv in invoices):
        out.append("Totals in the books' currency; invoices in other currencies at their invoice-date rate.")
    if flagged:
        out.append(f"! {flagged} invoice(s) changed by more than {CHANGE_FLAG}% from the previous month: review them")
    for inv in invoices:
        applied = result.credit_applied(inv)
        if applied:
            out.append(
                f"{inv.number}: credit applied {money(applied, inv.currency)}, "
                f"amount due {money(inv.total - applied, inv.currency)}"
            )
    if result.warnings:
        out.append("")
        out.append(f"Warnings ({len(result.warnings)}):")
        out.extend(f"  {w}" for w in result.warnings)
    return "\n".join(out) + "\n"
