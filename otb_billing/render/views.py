"""What an invoice or a statement shows, as plain strings: one view model for the PDF, the HTML and the email.

The PDF and the HTML are drawn from the same InvoiceView, so they cannot disagree about a number. Money is
formatted per the invoice currency (render/moneyfmt.py); dates are the invoice's own dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ..core.model import Invoice, Settings
from ..core.money import ZERO, fmt_quantity
from ..core.receivables import AGING_BUCKETS
from ..core.summary import GROUP_LABELS, grouped_lines
from .i18n import LANGUAGES, Lang
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
    def of(cls, settings: Settings) -> Letterhead:
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
    def from_dict(cls, data: dict) -> Letterhead:
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
    title: str = "Invoice"
    words: dict = field(default_factory=dict)  # bill_to, how_to_pay, details, page, draft_mark in the language
    total_index: int = 0  # the row of `totals` that is the invoice total
    created: dt.datetime | None = None  # the PDF's creation date: the invoice date, or when it was finalized


def _qty(q: Decimal) -> str:
    return fmt_quantity(q)


def invoice_view(invoice: Invoice, letterhead: Letterhead, client_lines: tuple[str, ...], *, terms_days: int,
                 instructions: str, footer: str, draft: bool, credit_applied: Decimal = ZERO,
                 paid: Decimal = ZERO, credited: Decimal = ZERO, language: str = "en",
                 created: dt.datetime | None = None) -> InvoiceView:
    lang = Lang(language)
    cur = invoice.currency
    m = invoice.month
    meta = [
        (lang.t("invoice_no"), invoice.number),
        (lang.t("invoice_date"), lang.date(invoice.date)),
        (lang.t("due_date"), lang.date(invoice.due)),
        (lang.t("terms"), lang.t("net_days", days=terms_days) if terms_days else lang.t("on_receipt")),
        (lang.t("period"), lang.month_range(m.first_day, m.last_day)),
        (lang.t("plan"), f"{invoice.plan}, {invoice.term}"),
        (lang.t("account"), invoice.account),
    ]
    if invoice.foreign:
        meta.append((lang.t("exchange_rate"), lang.t("rate_on", cur=cur, rate=lang.quantity(str(invoice.fx_rate)),
                                                      base=invoice.base_currency, day=str(invoice.fx_date))))
    taxed = bool(invoice.taxes)
    rows = []
    for line in grouped_lines(invoice):
        mark = "" if line.taxable or not taxed else " *"
        description = lang.group(line.description) if line.category in GROUP_LABELS else lang.describe(
            line.description)
        rows.append((description + mark, lang.quantity(_qty(line.quantity)),
                     lang.rate(line.rate, cur), lang.money(line.amount, cur)))
    totals = [(lang.t("subtotal"), lang.money(invoice.subtotal, cur))]
    for tax in invoice.taxes:
        label = (
            f"{lang.tax(TAX_NAMES_LONG.get(tax.name, tax.name))} {lang.quantity(fmt_quantity(tax.rate))} %"
            if lang.language == "fr"
            else f"{lang.tax(TAX_NAMES_LONG.get(tax.name, tax.name))} {fmt_quantity(tax.rate)}%"
        )
        if tax.registration:
            label += f" ({lang.t('reg')} {tax.registration})"
        value = lang.money(tax.amount, cur)
        if invoice.foreign:
            value += f" ({lang.money(invoice.in_base(tax.amount), invoice.base_currency)})"
        totals.append((label, value))
    total_index = len(totals)
    totals.append((lang.t("total"), lang.money(invoice.total, cur)))
    if invoice.foreign:
        totals.append(
            (
                lang.t("total_in", cur=invoice.base_currency),
                lang.money(invoice.in_base(invoice.total), invoice.base_currency),
            )
        )
    if credit_applied:
        totals.append((lang.t("credit_applied"), "-" + lang.money(credit_applied, cur)))
    if credited:
        totals.append((lang.t("credit_notes"), "-" + lang.money(credited, cur)))
    if paid:
        totals.append((lang.t("amount_paid"), "-" + lang.money(paid, cur)))
    due = invoice.total - credit_applied - paid - credited
    notes = [lang.note(n) for n in invoice.notes]
    if taxed and any(not line.taxable for line in invoice.lines):
        notes += [lang.t("not_taxable"), lang.t("taxable_note")]
    words = {
        "bill_to": lang.t("bill_to"),
        "how_to_pay": lang.t("how_to_pay"),
        "details": lang.t("details", number=invoice.number),
        "page": WORDS_PAGE[lang.language],
        "draft_mark": lang.t("draft_mark"),
        "lang": "fr" if lang.language == "fr" else "en",
    }
    letterhead = replace(
        letterhead,
        registrations=tuple((lang.registration(label), number) for label, number in letterhead.registrations),
    )
    return InvoiceView(
        created=created or _midnight(invoice.date),
        draft=draft,
        number=invoice.number,
        letterhead=letterhead,
        client_name=invoice.client,
        client_lines=client_lines,
        meta=tuple(meta),
        summary_header=(lang.t("description"), lang.t("qty"), lang.t("rate"), lang.t("amount")),
        summary=tuple(rows),
        totals=tuple(totals),
        amount_due=(
            lang.t("balance_due") if (paid or credited or credit_applied) else lang.t("amount_due"),
            lang.money(due, cur),
        ),
        notes=tuple(notes),
        instructions=instructions,
        footer=footer,
        appendix=tuple(appendix(invoice, lang)),
        title=lang.t("draft_invoice") if draft else lang.t("invoice"),
        words=words,
        total_index=total_index,
    )


WORDS_PAGE = {language: Lang(language).t("page", page="{page}", total="{total}") for language in LANGUAGES}


def appendix(invoice: Invoice, lang: Lang | None = None) -> list[Section]:
    """Every user, device, ticket (with the dates of its time entries) and other charge, one row each."""
    lang = lang or Lang()
    cur = invoice.currency
    sections = []
    header = (lang.t("item"), lang.t("qty"), lang.t("rate"), lang.t("amount"))

    def rows_of(groups):
        return tuple(
            (
                lang.describe(ln.description),
                lang.quantity(_qty(ln.quantity)),
                lang.rate(ln.rate, cur),
                lang.money(ln.amount, cur),
            )
            for ln in invoice.lines
            if ln.group in groups
        )

    for key, groups in (
        ("users", ("users",)),
        ("devices", ("assets",)),
        ("backup", ("backup",)),
        ("other_charges", ("tickets", "line_items")),
    ):
        rows = rows_of(groups)
        if rows:
            sections.append(Section(lang.t(key), header, rows, frozenset({1, 2, 3})))
    if invoice.tickets:
        rows = tuple(
            (t.ticket, _dates(t.dates), t.subject, lang.quantity(_qty(t.hours)), lang.quantity(_qty(t.billable_hours)))
            for t in invoice.tickets
        )
        total = sum((t.hours for t in invoice.tickets), ZERO)
        billable = sum((t.billable_hours for t in invoice.tickets), ZERO)
        rows += (("", "", lang.t("total_row"), lang.quantity(_qty(total)), lang.quantity(_qty(billable))),)
        sections.append(
            Section(
                lang.t(
                    "tickets",
                    level=lang.t(invoice.support_level)
                    if invoice.support_level in ("hourly", "flat")
                    else invoice.support_level,
                ),
                (lang.t("ticket"), lang.t("date"), lang.t("subject"), lang.t("hours"), lang.t("billable")),
                rows,
                frozenset({3, 4}),
            )
        )
    return sections


def _dates(days) -> str:
    """The days a ticket's time was entered: `2024-10-03`, or the first and last, `2024-10-03 – 2024-10-17`."""
    if not days:
        return ""
    first, last = min(days), max(days)
    return str(first) if first == last else f"{first} – {last}"


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
    created: dt.datetime | None = None  # the PDF's creation date: the statement's end date


def statement_view(
    st, letterhead: Letterhead, client_name: str, client_lines: tuple[str, ...], currency: str, aging_row, footer: str
) -> StatementView:
    rows = [("", "", "Opening balance", "", "", money(st.opening, currency))]
    balances = [st.opening]
    for line in st.lines:
        rows.append(
            (
                str(line.date),
                line.reference,
                line.description,
                money(line.amount, currency) if line.amount > 0 else "",
                money(-line.amount, currency) if line.amount < 0 else "",
                money(line.balance, currency),
            )
        )
        balances.append(line.balance)
    rows.append(("", "", "Closing balance", "", "", money(st.closing, currency)))
    balances.append(st.closing)
    aging = []
    if aging_row is not None:
        aging = [
            ("Current" if bucket == "current" else f"{bucket} days", money(aging_row.buckets[bucket], currency))
            for bucket in AGING_BUCKETS
        ]
        if aging_row.credit:
            aging.append(("Credit on account", money(-aging_row.credit, currency)))
    start = f"{st.start:%B %-d, %Y}" if st.start else "the beginning"
    return StatementView(
        letterhead,
        client_name,
        client_lines,
        f"{start} to {st.end:%B %-d, %Y}",
        currency,
        ("Date", "Reference", "Description", "Charges", "Payments/credits", "Balance"),
        tuple(rows),
        tuple(balances),
        tuple(aging),
        money(st.closing, currency),
        footer,
        _midnight(st.end),
    )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
