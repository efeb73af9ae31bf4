"""The month's payments and credit notes, read from the ledger, as rows for QuickBooks Online (render/quickbooks.py).

So the accounting side can be kept in QuickBooks too: what a payment settled (and what it left as credit on
account), reversals as negative amounts, and each credit note as a credit memo in the invoice's currency.
"""

from __future__ import annotations

from beancount.core import data

from ..books import accounts, postings
from ..books.extract import Books
from ..core.model import Config
from ..core.money import ZERO
from ..core.month import Month
from ..core.tax import TAX_NAMES
from ..render.quickbooks import CreditMemo, PaymentRow, default_tax_code, shares


def payment_rows(config: Config, books: Books, month: Month) -> list[PaymentRow]:
    rows = []
    for payment in sorted(books.payments, key=lambda p: (p.date, p.ref)):
        if Month.of(payment.date) != month:
            continue
        client = books.names.get(payment.account) or payment.client
        memo = f"Reversal of payment {payment.reverses}" if payment.reverses else ""
        deposit = config.bank_for(payment.currency)
        for number, amount in payment.allocations:
            rows.append(PaymentRow(payment.date, client, payment.method, deposit, payment.ref, number, amount,
                                   payment.currency, memo))
        rest = payment.amount - sum((amount for _, amount in payment.allocations), ZERO)
        if rest:
            rows.append(PaymentRow(payment.date, client, payment.method, deposit, payment.ref, "", rest,
                                   payment.currency, memo or "credit on account"))
    return rows


def credit_memos(config: Config, books: Books, month: Month) -> list[CreditMemo]:
    """Each credit note dated in `month`: its income lines and tax in the invoice's currency (a foreign credit's
    lines are its amount shared in proportion to the CAD postings, so they add up to it exactly)."""
    provinces = {c.account: c.province for c in config.clients}
    invoices = {str(e.meta["invoice"]): e for e in books.entries
                if isinstance(e, data.Transaction) and "invoice" in e.meta}
    memos = []
    for entry in books.entries:
        if not isinstance(entry, data.Transaction) or "credit_note" not in entry.meta:
            continue
        if Month.of(entry.date) != month:
            continue
        credit = next(c for c in books.credits if c.number == str(entry.meta["credit_note"]))
        booked = [(p.account, postings.number(p)) for p in entry.postings
                  if p.account.startswith(("Income:", "Liabilities:Tax:")) and p.account != accounts.FX_ACCOUNT]
        amounts = shares(credit.amount, [value for _, value in booked]) if credit.currency != config.settings.currency \
            else [value for _, value in booked]
        lines, tax, names = [], ZERO, []
        for (account, _), amount in zip(booked, amounts, strict=False):
            if account.startswith("Liabilities:Tax:"):
                tax += amount
                names.append(account.rsplit(":", 1)[-1].split("-")[0])
            else:
                label = accounts.label(account)
                lines.append((label, f"Credit: {label}", amount))
        invoice = invoices.get(credit.invoice)
        note = str((invoice.meta if invoice else {}).get("tax_note", ""))
        situation = "taxed" if names else ("zero-rated" if note.startswith("Zero-rated") else
                                           "exempt" if note else "none")
        ordered = sorted(set(names), key=lambda n: TAX_NAMES.index(n) if n in TAX_NAMES else 99)
        code = default_tax_code(ordered, provinces.get(credit.account, ""), situation)
        memos.append(CreditMemo(credit.number, credit.invoice, books.names.get(credit.account) or credit.client,
                                credit.date, credit.currency, credit.reason, tuple(lines), tax, code))
    return memos

