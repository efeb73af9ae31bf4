"""`otb credit INVOICE`: a credit note with its own number, reversing income and tax in proportion.

A credit note on an invoice that is already paid (in part or in full) leaves the client in credit: that credit on
account is applied to the client's next invoices, as an overpayment would be. Issuing the same credit note again
(same invoice, amount, date and reason: a retry after a crash, say) records nothing and says which one exists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from beancount.core import data

from ..books.accounts import deposits
from ..books.entries import render_credit_note, seal
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.money import ZERO, check_amount
from .applications import applications, lot_open_after, parsed
from .ledger_edit import (
    appended,
    checked_change,
    commit_ledger,
    ledger_file_edits,
    open_books,
    payments_header,
)


class CreditResult(NamedTuple):
    number: str
    amount: Decimal
    currency: str
    already: bool = False  # this credit note was already issued: nothing was written


def credits_file(root: Path, day: dt.date) -> Path:
    return root / "ledger" / "credits" / f"{day.year:04d}.beancount"


def run_credit(root: Path, invoice: str, amount: Decimal | None, full: bool, reason: str, day: dt.date,
               at: dt.datetime) -> CreditResult:
    """Issue the credit note (or find the identical one already issued)."""
    with checked_change(root) as ahead:  # the check's child parses the ledger meanwhile
        config, books = open_books(root)
        entry = books.transaction("invoice", invoice)
        if entry is None:
            raise InputErrors([Problem(None, f"no invoice {invoice} in the ledger",
                                       did_you_mean(invoice, [d.number for d in books.docs]))])
        if entry.flag != "*":
            raise InputErrors([Problem(None, f"{invoice} is a draft: change its inputs and bill the month again",
                                       "credit notes are for issued (finalized) invoices")])
        reason = reason.strip()
        if not reason:
            raise InputErrors([Problem(None, "a credit note needs --reason",
                                       'e.g. --reason "billed a retired server"')])
        if day < entry.date:
            raise InputErrors([Problem(None, f"a credit note on {invoice} cannot be dated {day}, before the invoice "
                                       f"({entry.date})", f"use --date {entry.date} or later")])
        doc = books.doc(invoice)
        if doc is None:  # the entry is there but carries no invoice record (edited by hand?)
            raise InputErrors([Problem(None, f"{invoice} in the ledger is not an invoice otb can read",
                                       "check its entry (the invoice: and account: metadata)")])
        mine = [c for c in books.credits if c.invoice == invoice]
        for done in mine:
            if done.date == day and done.reason == reason and (full or done.amount == amount):
                return CreditResult(done.number, done.amount, doc.currency, already=True)
        earlier = [e for e in books.entries if isinstance(e, data.Transaction)
                   and str(e.meta.get("credits", "")) == invoice and "credit_note" in e.meta]
        left = doc.total - sum((c.amount for c in mine), ZERO)
        if left <= 0:
            raise InputErrors([Problem(None, f"{invoice} is already fully credited")])
        if full:
            amount = left
        why = check_amount(amount) if amount is not None else "give --amount (or --full)"
        if why or amount is None:
            raise InputErrors([Problem(None, f"credit amount {amount}: {why}")])
        if amount > left:
            raise InputErrors([Problem(None, f"a credit of {amount} is more than what is left of {invoice} ({left})",
                                       f"the most you can credit is {left}; --full credits exactly that")])
        number = f"CN-{invoice}-{len(earlier) + 1}"
        from_lot = lot_open_after(books.entries, doc.account, invoice, day) if doc.fx_rate is not None else None
        text = render_credit_note(number=number, invoice=entry, earlier=earlier, day=day, amount=amount,
                                  full=amount == left, reason=reason, from_lot=from_lot)
        block = seal(text, at)
        path = credits_file(root, day)
        header = f"; Credit notes of {day.year}, written by otb. Issued documents: never edit them by hand.\n"
        texts = {path: appended(path, [block], header)}
        for other, extra in applications(root, config.settings.currency, books, parsed([block])).items():
            texts[other] = appended(other, extra, payments_header(int(other.stem)))
        opens = {deposits(doc.account): {"account_number": doc.account}} if "Liabilities:Deposits" in block else None
        commit_ledger(root, ledger_file_edits(root, texts, opens), f"otb credit {invoice} --date {day}", ahead=ahead)
        return CreditResult(number, amount, doc.currency)
