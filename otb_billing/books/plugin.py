"""A Beancount plugin for the books OTB Billing writes: enable it with `plugin "otb_billing.books.plugin"`.

bean-check and Fava then report, with file and line:
- a finalized invoice or credit note edited by hand (its digest no longer matches its content);
- an invoice number used twice;
- a payment or credit note that links an invoice that does not exist;
- credit notes that add up to more than their invoice;
- an issued invoice PDF whose bytes no longer match the sha256 recorded when it was issued.
It changes no entries.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from beancount.core import data

from .digest import entry_digest

__plugins__ = ["check_invoices"]


class InvoiceError(NamedTuple):
    source: dict
    message: str
    entry: object


def _receivable_total(entry: data.Transaction) -> Decimal:
    """What the entry adds to the client's balance: receivable, and credit on account held as deposits."""
    return sum(
        (p.units.number for p in entry.postings
         if p.account.startswith(("Assets:Receivable:", "Liabilities:Deposits:")) and p.units),
        Decimal(0),
    )


def _check_pdf(entry: data.Document) -> list[InvoiceError]:
    try:
        digest = hashlib.sha256(Path(entry.filename).read_bytes()).hexdigest()
    except OSError:
        return []  # a missing file is already reported by Beancount's own document check
    if digest != entry.meta["sha256"]:
        return [InvoiceError(entry.meta, f"{entry.filename} was changed after it was issued (sha256 differs); "
                             "restore it from git", entry)]
    return []


def check_invoices(entries, options_map):
    errors = []
    invoices: dict[str, data.Transaction] = {}
    credited: dict[str, Decimal] = defaultdict(Decimal)
    credit_notes: dict[str, list[data.Transaction]] = defaultdict(list)
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        meta = entry.meta or {}
        if "digest" in meta and entry_digest(entry) != meta["digest"]:
            what = "credit note" if "credit_note" in meta else "invoice"
            number = meta.get("invoice") or meta.get("credit_note") or "?"
            errors.append(InvoiceError(meta, f"finalized {what} {number} was edited by hand (its digest does not "
                                       "match); restore it from git and correct it with a credit note or an "
                                       "adjustment invoice", entry))
        if "invoice" in meta:
            number = str(meta["invoice"])
            if number in invoices:
                first = invoices[number].meta
                errors.append(InvoiceError(meta, f"duplicate invoice number {number} (also at "
                                           f"{first.get('filename')}:{first.get('lineno')})", entry))
            else:
                invoices[number] = entry
    for entry in entries:
        if isinstance(entry, data.Document) and "sha256" in (entry.meta or {}):
            errors.extend(_check_pdf(entry))
        if not isinstance(entry, data.Transaction):
            continue
        meta = entry.meta or {}
        if "payment" in meta or "credit_note" in meta:
            what = "payment" if "payment" in meta else "credit note"
            for link in sorted(entry.links or ()):
                if link == meta.get("credit_note"):
                    continue
                if link not in invoices:
                    errors.append(InvoiceError(meta, f"{what} links invoice {link}, which does not exist", entry))
        if "credit_note" in meta and "credits" in meta:
            number = str(meta["credits"])
            credited[number] += -_receivable_total(entry)
            credit_notes[number].append(entry)
    for number, amount in sorted(credited.items()):
        invoice = invoices.get(number)
        if invoice is None:
            continue  # already reported as a link to a missing invoice
        total = _receivable_total(invoice)
        if amount > total:
            last = credit_notes[number][-1]
            errors.append(InvoiceError(last.meta, f"credit notes for {number} add up to {amount}, more than the "
                                       f"invoice total {total}", last))
    return entries, errors
