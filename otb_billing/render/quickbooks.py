"""QuickBooks Online import files: the month's invoices, payments and credit memos, as QuickBooks reads them.

Invoices use the column names QuickBooks Online maps by itself (`InvoiceNo`, `Customer`, ... `Service Date`, and
`Currency` when a client is invoiced in another currency), one row per summary line (users and devices grouped by
rate, core/summary.py), in files of at most 100 invoices and 1,000 rows (QuickBooks' limits; an invoice is never
split across two files). Tax is computed per invoice; each taxable row carries its share of it (`ItemTaxAmount`),
rounded half-up with the leftover cent on the largest row, so the rows of an invoice add up to its total exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import NamedTuple

from ..core.model import Invoice, QuickBooks
from ..core.money import ZERO, cents, fmt_money, fmt_quantity, fmt_rate
from ..core.summary import grouped_lines
from .qbcsv import neutralize, rows_text

INVOICE_COLUMNS = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo",
                   "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "ItemTaxCode",
                   "ItemTaxAmount", "Service Date"]
CREDIT_COLUMNS = ["CreditMemoNo", "Customer", "CreditMemoDate", "Location", "Memo", "Item(Product/Service)",
                  "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "ItemTaxCode", "ItemTaxAmount",
                  "Service Date"]
PAYMENT_COLUMNS = ["PaymentDate", "Customer", "PaymentMethod", "DepositToAccount", "ReferenceNo", "InvoiceNo",
                   "Amount", "Memo"]
MAX_INVOICES, MAX_ROWS = 100, 1000  # per import file

ZERO_RATED, EXEMPT, NO_TAX = "Z", "E", "E"  # QuickBooks Online Canada's codes for zero-rated and exempt supplies


def default_tax_code(tax_names: Sequence[str], province: str, situation: str) -> str:
    """QuickBooks Online Canada's default code for what an invoice charges: `HST ON`, `GST`, `GST/QST QC`,
    `GST/PST BC`, `GST/RST MB`, or `Z` (zero-rated), `E` (exempt, or a business not registered for GST/HST).
    `situation` is "taxed", "zero-rated", "exempt" or "none"."""
    if situation == "zero-rated":
        return ZERO_RATED
    if situation != "taxed" or not tax_names:
        return EXEMPT
    names = list(tax_names)
    if names == ["HST"]:
        return f"HST {province}"
    if names == ["GST"]:
        return "GST"
    return "/".join(names) + f" {province}"


def invoice_situation(invoice: Invoice) -> str:
    if invoice.taxes:
        return "taxed"
    if invoice.notes and invoice.notes[0].startswith("Zero-rated"):
        return "zero-rated"
    return "exempt" if invoice.notes else "none"


def tax_code(invoice: Invoice, taxable: bool, settings: QuickBooks) -> str:
    province = next((t.province for t in invoice.taxes if t.province), "")
    code = default_tax_code([t.name for t in invoice.taxes], province, invoice_situation(invoice))
    if not taxable and code not in (ZERO_RATED, EXEMPT):
        code = EXEMPT
    return settings.tax_codes.get(code, code)


def shares(total: Decimal, amounts: Sequence[Decimal]) -> list[Decimal]:
    """`total` split over `amounts` in proportion, each rounded half-up, the leftover cents on the largest."""
    base = sum(amounts, ZERO)
    if not base:
        return [ZERO for _ in amounts]
    parts = [cents(total * a / base) for a in amounts]
    if amounts and (left := total - sum(parts, ZERO)):
        largest = max(range(len(amounts)), key=lambda i: (abs(amounts[i]), -i))
        parts[largest] += left
    return parts


def terms(invoice: Invoice) -> str:
    days = (invoice.due - invoice.date).days
    return f"Net {days}" if days else "Due on receipt"


def _date(day: dt.date, settings: QuickBooks) -> str:
    return day.strftime(settings.date_format)


def invoice_rows(invoice: Invoice, settings: QuickBooks, with_currency: bool) -> tuple[list[str], list[list[str]]]:
    """The cells every row of one invoice begins with, and each row's own: ItemAmount adds up to its subtotal,
    ItemTaxAmount to its tax."""
    lines = grouped_lines(invoice)
    taxable = [line.amount if line.taxable else ZERO for line in lines]
    taxes = shares(invoice.tax, taxable)
    memo = f"{invoice.month.label}: {invoice.plan}, {invoice.term}" if invoice.plan else invoice.month.label
    day = _date(invoice.date, settings)
    head = [invoice.number, neutralize(invoice.client), day, _date(invoice.due, settings),
            terms(invoice), neutralize(settings.location), neutralize(memo)]
    codes = {flag: tax_code(invoice, flag, settings) for flag in (True, False)}
    tail = [invoice.currency] if with_currency else []
    return head, [[neutralize(line.item), neutralize(line.description), fmt_quantity(line.quantity),
                   fmt_rate(line.rate), fmt_money(line.amount), codes[line.taxable], fmt_money(tax), day, *tail]
                  for line, tax in zip(lines, taxes, strict=True)]


def _csv(header: list[str], rows: Iterable[list[str]]) -> bytes:
    return rows_text(itertools.chain([header], rows)).encode("utf-8")


def invoice_text(invoice: Invoice, settings: QuickBooks, with_currency: bool) -> tuple[int, str]:
    """(number of rows, their CSV lines) of one invoice. The seven cells every row repeats are written once, as CSV
    text, ahead of each row's own (as qbcsv.invoice_csv does; the same bytes)."""
    head, rows = invoice_rows(invoice, settings, with_currency)
    prefix = rows_text([[*head, ""]])[:-2]  # "number,client,...,memo," (the empty cell: the last comma)
    buffer = io.StringIO()
    write, row = buffer.write, csv.writer(buffer, lineterminator="\r\n").writerow
    for cells in rows:
        write(prefix)
        row(cells)
    return len(rows), buffer.getvalue()


def invoice_files(invoices: Sequence[Invoice], month: str, settings: QuickBooks, base_currency: str,
                  text_of: Callable[[Invoice, QuickBooks, bool], tuple[int, str]] = invoice_text
                  ) -> Iterator[tuple[str, bytes]]:
    """`quickbooks-invoices-YYYY-MM.csv` (or `-part1.csv`, `-part2.csv`, ...): every invoice of the month, by number,
    as (name, bytes), each part encoded only when asked for (10,000 clients: 22 MB of text, not held twice).
    `text_of` is `invoice_text`, or a memo of it (otb watch)."""
    with_currency = any(inv.currency != base_currency for inv in invoices)
    header = rows_text([INVOICE_COLUMNS + (["Currency"] if with_currency else [])])
    name = f"quickbooks-invoices-{month}"
    batch: list[str] = []  # one part's invoices: a part is handed on once the next one begins, so that at most
    made = count = rows = 0  # one is held (all of them were 22 MB of text at 10,000 clients)
    for invoice in sorted(invoices, key=lambda i: i.number):
        n, text = text_of(invoice, settings, with_currency)
        if batch and (count >= MAX_INVOICES or rows + n > MAX_ROWS):
            made += 1  # more parts follow: this one is numbered
            yield f"{name}-part{made}.csv", (header + "".join(batch)).encode("utf-8")
            batch, count, rows = [], 0, 0
        batch.append(text)
        count += 1
        rows += n
    yield (f"{name}-part{made + 1}.csv" if made else f"{name}.csv"), (header + "".join(batch)).encode("utf-8")


class CreditMemo(NamedTuple):
    number: str
    invoice: str
    client: str
    date: dt.date
    currency: str
    reason: str
    lines: tuple[tuple[str, str, Decimal], ...]  # (item, description, amount before tax)
    tax: Decimal
    tax_code: str


def credit_memo_file(memos: Sequence[CreditMemo], month: str, settings: QuickBooks, base_currency: str) -> bytes:
    """`quickbooks-credit-memos-YYYY-MM.csv`: each credit note as a credit memo, its tax spread like an invoice's."""
    with_currency = any(m.currency != base_currency for m in memos)
    rows = []
    for memo in sorted(memos, key=lambda m: (m.date, m.number)):
        amounts = [amount for _, _, amount in memo.lines]
        code = settings.tax_codes.get(memo.tax_code, memo.tax_code)
        for (item, description, amount), tax in zip(memo.lines, shares(memo.tax, amounts), strict=False):
            rows.append(
                [
                    memo.number,
                    neutralize(memo.client),
                    _date(memo.date, settings),
                    neutralize(settings.location),
                    neutralize(f"Credit on {memo.invoice}: {memo.reason}"),
                    neutralize(item),
                    neutralize(description),
                    "1",
                    fmt_money(amount),
                    fmt_money(amount),
                    code,
                    fmt_money(tax),
                    _date(memo.date, settings),
                ]
                + ([memo.currency] if with_currency else [])
            )
    return _csv(CREDIT_COLUMNS + (["Currency"] if with_currency else []), rows)


class PaymentRow(NamedTuple):
    date: dt.date
    client: str
    method: str
    deposit_to: str
    ref: str
    invoice: str  # "" for what stays as credit on account
    amount: Decimal  # negative for a reversal
    currency: str
    memo: str


def payment_file(rows: Sequence[PaymentRow], settings: QuickBooks, base_currency: str) -> bytes:
    """`quickbooks-payments-YYYY-MM.csv`: one row per invoice a payment settles, and one for what it leaves as
    credit on account; a bounced payment's reversal has negative amounts."""
    with_currency = any(r.currency != base_currency for r in rows)
    out = [
        [
            _date(r.date, settings),
            neutralize(r.client),
            neutralize(r.method),
            neutralize(r.deposit_to),
            neutralize(r.ref),
            r.invoice,
            fmt_money(r.amount),
            neutralize(r.memo),
        ]
        + ([r.currency] if with_currency else [])
        for r in rows
    ]
    return _csv(PAYMENT_COLUMNS + (["Currency"] if with_currency else []), out)
