"""What an invoice or a statement shows, as plain strings: one view model for the PDF, the HTML and the email.

The PDF and the HTML are drawn from the same InvoiceView, so they cannot disagree about a number. Money is
formatted per the invoice currency (render/moneyfmt.py); dates are the invoice's own dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..core.model import Invoice, Settings
from ..core.money import ZERO, fmt_quantity
from ..core.receivables import AGING_BUCKETS
from ..core.summary import grouped_lines
from .moneyfmt import money

TAX_NAMES_LONG = {"GST": "GST", "HST": "HST", "QST": "QST", "PST": "PST", "RST": "RST"}


@dataclass(frozen=True)
class Letterhead:
    """Who issues the document; stored with a finalized invoice so a later move does not rewrite it."""

    name: str
    lines: tuple[str, ...]
    registrations: tuple[tuple[str, str], ...]
    logo: str = ""

    @classmethod
    def of(cls, settings: Settings) -> "Letterhead":
        b = settings.business
        lines = tuple(x for x in (b.tagline, *b.address, b.email, b.phone, b.website) if x)
        regs = [(("GST/HST Reg. No." if k == "GST/HST" else f"{k} Reg. No."), v) for k, v in
                sorted(settings.registrations.items(), key=lambda kv: kv[0] != "GST/HST")]
        if b.registration:
            regs.append(("Business No.", b.registration))
        return cls(b.name, lines, tuple(regs), b.logo)

    def to_dict(self) -> dict:
        return {"name": self.name, "lines": list(self.lines), "registrations": [list(r) for r in self.registrations],
                "logo": self.logo}

    @classmethod
    def from_dict(cls, data: dict) -> "Letterhead":
        return cls(data["name"], tuple(data["lines"]), tuple(tuple(r) for r in data["registrations"]), data["logo"])


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: frozenset[int] = frozenset()


@dataclass(frozen=True)
class InvoiceView:
    draft: bool
    number: str
    letterhead: Letterhead
    client_name: str
    client_lines: tuple[str, ...]
    meta: tuple[tuple[str, str], ...]
    summary_header: tuple[str, ...]
    summary: tuple[tuple[str, ...], ...]
    totals: tuple[tuple[str, str], ...]
    amount_due: tuple[str, str]
    notes: tuple[str, ...]
    instructions: str
    footer: str
    appendix: tuple[Section, ...] = field(default=())

    @property
    def title(self) -> str:
        return "Draft invoice" if self.draft else "Invoice"


def _qty(q: Decimal) -> str:
    return fmt_quantity(q)


def invoice_view(invoice: Invoice, letterhead: Letterhead, client_lines: tuple[str, ...], *, terms_days: int,
                 instructions: str, footer: str, draft: bool, credit_applied: Decimal = ZERO,
                 paid: Decimal = ZERO, credited: Decimal = ZERO) -> InvoiceView:
    cur = invoice.currency
    m = invoice.month
    meta = [
        ("Invoice no.", invoice.number),
        ("Invoice date", f"{invoice.date:%B %-d, %Y}"),
        ("Due date", f"{invoice.due:%B %-d, %Y}"),
        ("Payment terms", f"Net {terms_days} days" if terms_days else "Due on receipt"),
        ("Billing period", f"{m.first_day:%B %-d} to {m.last_day:%B %-d, %Y}"),
        ("Plan", f"{invoice.plan}, {invoice.term}"),
        ("Account", invoice.account),
    ]
    if invoice.foreign:
        meta.append(("Exchange rate", f"1 {cur} = {invoice.fx_rate} {invoice.base_currency} on {invoice.fx_date}"))
    taxed = bool(invoice.taxes)
    rows = []
    for line in grouped_lines(invoice):
        mark = "" if line.taxable or not taxed else " *"
        rows.append((line.description + mark, _qty(line.quantity),
                     money(line.rate, cur) if line.rate >= Decimal("0.01") or not line.rate else f"{line.rate}",
                     money(line.amount, cur)))
    totals = [("Subtotal", money(invoice.subtotal, cur))]
    for tax in invoice.taxes:
        label = f"{TAX_NAMES_LONG.get(tax.name, tax.name)} {fmt_quantity(tax.rate)}%"
        if tax.registration:
            label += f" (Reg. {tax.registration})"
        value = money(tax.amount, cur)
        if invoice.foreign:
            value += f" ({money(invoice.in_base(tax.amount), invoice.base_currency)})"
        totals.append((label, value))
    totals.append(("Total", money(invoice.total, cur)))
    if invoice.foreign:
        totals.append((f"Total in {invoice.base_currency}", money(invoice.in_base(invoice.total),
                                                                  invoice.base_currency)))
    if credit_applied:
        totals.append(("Credit applied", "-" + money(credit_applied, cur)))
    if credited:
        totals.append(("Credit notes", "-" + money(credited, cur)))
    if paid:
        totals.append(("Amount paid", "-" + money(paid, cur)))
    due = invoice.total - credit_applied - paid - credited
    notes = list(invoice.notes)
    if taxed and any(not line.taxable for line in invoice.lines):
        notes.append("* Not subject to sales tax.")
    if taxed:
        notes.append("All other charges are taxable supplies; tax is computed on the taxable subtotal.")
    return InvoiceView(
        draft=draft, number=invoice.number, letterhead=letterhead, client_name=invoice.client,
        client_lines=client_lines, meta=tuple(meta), summary_header=("Description", "Qty", "Rate", "Amount"),
        summary=tuple(rows), totals=tuple(totals), amount_due=("Balance due" if (paid or credited or credit_applied)
                                                               else "Amount due", money(due, cur)),
        notes=tuple(notes), instructions=instructions, footer=footer, appendix=tuple(appendix(invoice)),
    )


def appendix(invoice: Invoice) -> list[Section]:
    """Every user, device, ticket and other charge, one row each."""
    cur = invoice.currency
    sections = []

    def rows_of(groups):
        return tuple((l.description, _qty(l.quantity), money(l.rate, cur), money(l.amount, cur))
                     for l in invoice.lines if l.group in groups)

    for title, groups in (("Users", ("users",)), ("Devices", ("assets",)), ("Backup", ("backup",)),
                          ("Support and other charges", ("tickets", "line_items"))):
        rows = rows_of(groups)
        if rows:
            sections.append(Section(title, ("Item", "Qty", "Rate", "Amount"), rows, frozenset({1, 2, 3})))
    if invoice.tickets:
        rows = tuple((t.ticket, t.subject, _qty(t.hours), _qty(t.billable_hours)) for t in invoice.tickets)
        total = sum((t.hours for t in invoice.tickets), ZERO)
        billable = sum((t.billable_hours for t in invoice.tickets), ZERO)
        rows += (("", "Total", _qty(total), _qty(billable)),)
        sections.append(Section(f"Support tickets ({invoice.support_level} support)",
                                ("Ticket", "Subject", "Hours", "Billable"), rows, frozenset({2, 3})))
    return sections


# --- statements -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementView:
    letterhead: Letterhead
    client_name: str
    client_lines: tuple[str, ...]
    period: str
    currency: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    balances: tuple[Decimal, ...]  # running balance per row, for colour
    aging: tuple[tuple[str, str], ...]
    closing: str
    footer: str


def statement_view(st, letterhead: Letterhead, client_name: str, client_lines: tuple[str, ...], currency: str,
                   aging_row, footer: str) -> StatementView:
    rows = [("", "", "Opening balance", "", "", money(st.opening, currency))]
    balances = [st.opening]
    for line in st.lines:
        rows.append((str(line.date), line.reference, line.description,
                     money(line.amount, currency) if line.amount > 0 else "",
                     money(-line.amount, currency) if line.amount < 0 else "", money(line.balance, currency)))
        balances.append(line.balance)
    rows.append(("", "", "Closing balance", "", "", money(st.closing, currency)))
    balances.append(st.closing)
    aging = []
    if aging_row is not None:
        aging = [("Current" if bucket == "current" else f"{bucket} days", money(aging_row.buckets[bucket], currency))
                 for bucket in AGING_BUCKETS]
        if aging_row.credit:
            aging.append(("Credit on account", money(-aging_row.credit, currency)))
    start = f"{st.start:%B %-d, %Y}" if st.start else "the beginning"
    return StatementView(letterhead, client_name, client_lines, f"{start} to {st.end:%B %-d, %Y}", currency,
                         ("Date", "Reference", "Description", "Charges", "Payments/credits", "Balance"),
                         tuple(rows), tuple(balances), tuple(aging), money(st.closing, currency), footer)
