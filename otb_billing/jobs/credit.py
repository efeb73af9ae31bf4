"""`otb credit INVOICE`: a credit note with its own number, reversing income and tax in proportion."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from beancount.core import data

from ..books.documents import render_credit_note, seal
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.money import ZERO
from .ledger_edit import appended, ledger_file_edits, open_books, write_verified


def credits_file(root: Path, day: dt.date) -> Path:
    return root / "ledger" / "credits" / f"{day.year:04d}.beancount"


def run_credit(root: Path, invoice: str, amount: Decimal | None, full: bool, reason: str, day: dt.date,
               at: dt.datetime) -> tuple[str, Decimal, str]:
    """Issue the credit note; returns (its number, its amount including tax, its currency)."""
    config, books = open_books(root)
    entry = books.transaction("invoice", invoice)
    if entry is None:
        raise InputErrors([Problem(None, f"no invoice {invoice} in the ledger",
                                   did_you_mean(invoice, [d.number for d in books.docs]))])
    if entry.flag != "*":
        raise InputErrors([Problem(None, f"{invoice} is a draft: change its inputs and bill the month again",
                                   "credit notes are for issued (finalized) invoices")])
    if not reason.strip():
        raise InputErrors([Problem(None, "a credit note needs --reason", 'e.g. --reason "billed a retired server"')])
    earlier = [e for e in books.entries if isinstance(e, data.Transaction)
               and str(e.meta.get("credits", "")) == invoice and "credit_note" in e.meta]
    doc = books.doc(invoice)
    credited = sum((c.amount for c in books.credits if c.invoice == invoice), ZERO)
    left = doc.total - credited
    if full:
        amount = left
    if amount is None or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InputErrors([Problem(None, "give --amount (positive, at most two decimals) or --full")])
    if left <= 0:
        raise InputErrors([Problem(None, f"{invoice} is already fully credited")])
    if amount > left:
        raise InputErrors([Problem(None, f"a credit of {amount} is more than what is left of {invoice} ({left})",
                                   f"the most you can credit is {left}; --full credits exactly that")])
    number = f"CN-{invoice}-{len(earlier) + 1}"
    text = render_credit_note(number=number, invoice=entry, earlier=earlier, day=day, amount=amount,
                              full=amount == left, reason=reason.strip())
    block = seal(text, at)
    path = credits_file(root, day)
    header = f"; Credit notes of {day.year}, written by otb. Issued documents: never edit them by hand.\n"
    write_verified(root, ledger_file_edits(root, {path: appended(path, [block], header)}))
    return number, amount, doc.currency
