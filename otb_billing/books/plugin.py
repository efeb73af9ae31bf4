"""A Beancount plugin for the books OTB Billing writes: enable it with `plugin "otb_billing.books.plugin"`.

bean-check and Fava then report, with file and line:
- a finalized invoice or credit note edited by hand (its digest no longer matches its content);
- an invoice number used twice;
- a payment or credit note that links an invoice that does not exist;
- credit notes that add up to more than their invoice;
- an issued invoice PDF whose bytes no longer match the sha256 recorded when it was issued;
- a finalized invoice with no issued PDF (no `document` directive linked to it);
- a receivable lot (a foreign invoice) reduced below zero, or a deposit lot (foreign credit on account) used
  beyond what it holds: Beancount books either silently as a new lot of the other sign;
- a file otb writes (invoices, payments, credit notes, sends) that main.beancount does not include.
It changes no entries.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from beancount.core import data

from . import postings
from .digest import entry_digest

__plugins__ = ["check_invoices"]


class InvoiceError(NamedTuple):
    source: dict
    message: str
    entry: object


def _receivable_total(entry: data.Transaction) -> Decimal:
    """What the entry adds to the client's balance: receivable, and credit on account held as deposits."""
    return sum(
        (postings.number(p) for p in entry.postings
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


def _check_lots(entries) -> list[InvoiceError]:
    """Receivable lots never below zero, deposit lots never above: each reduction takes what the lot holds."""
    held: dict[tuple, Decimal] = defaultdict(Decimal)
    errors = []
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        for p in entry.postings:
            if (
                p.cost is None
                or not p.units
                or not p.account.startswith(("Assets:Receivable:", "Liabilities:Deposits:"))
            ):
                continue
            number, currency = postings.amount(p)
            key = (p.account, currency, postings.cost_per_unit(p), p.cost.currency, p.cost.date, p.cost.label)
            held[key] += number
            receivable = p.account.startswith("Assets:Receivable:")
            if (held[key] < 0) if receivable else (held[key] > 0):
                what = f"invoice {p.cost.label}" if receivable else f"credit on account {p.cost.label}"
                errors.append(
                    InvoiceError(
                        entry.meta,
                        f"{p.account}: this entry takes more of {what} than the "
                        f"books hold ({held[key]} {p.units.currency} left)",
                        entry,
                    )
                )
    return errors


def _check_documents(entries, invoices: dict) -> list[InvoiceError]:
    """Every finalized invoice has its issued PDF."""
    documented = {link for e in entries if isinstance(e, data.Document) for link in (e.links or ())}
    return [
        InvoiceError(
            entry.meta,
            f"finalized invoice {number} has no issued PDF (no document directive linked "
            f"^{number}); restore ledger/documents.beancount and ledger/documents/ from git",
            entry,
        )
        for number, entry in sorted(invoices.items())
        if "digest" in entry.meta and number not in documented
    ]


OTB_FILES = ("invoices/*/*.beancount", "payments/*.beancount", "credits/*.beancount", "sent/*.beancount")


def _check_includes(options_map) -> list[InvoiceError]:
    """Every file otb writes is included from main.beancount, or what it holds would be silently missing."""
    main = options_map.get("filename")
    if not main or not Path(main).is_file():
        return []
    ledger = Path(main).parent
    loaded = {Path(name).absolute() for name in options_map.get("include", ())}
    errors = []
    for pattern in OTB_FILES:
        for path in sorted(ledger.glob(pattern)):
            if path.absolute() not in loaded:
                relative = path.relative_to(ledger).as_posix()
                errors.append(
                    InvoiceError(
                        {"filename": main, "lineno": 0},
                        f"ledger/{relative} is not included from main.beancount: what it holds "
                        f'is missing from the books (add: include "{relative}")',
                        None,
                    )
                )
    return errors


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
            errors.append(
                InvoiceError(
                    meta,
                    f"finalized {what} {number} was edited by hand (its digest does not "
                    "match); restore it from git and correct it with a credit note or an "
                    "adjustment invoice",
                    entry,
                )
            )
        if "invoice" in meta:
            number = str(meta["invoice"])
            if number in invoices:
                first = invoices[number].meta
                errors.append(
                    InvoiceError(
                        meta,
                        f"duplicate invoice number {number} (also at {first.get('filename')}:{first.get('lineno')})",
                        entry,
                    )
                )
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
    errors.extend(_check_lots(entries))
    errors.extend(_check_documents(entries, invoices))
    errors.extend(_check_includes(options_map))
    for number, amount in sorted(credited.items()):
        invoice = invoices.get(number)
        if invoice is None:
            continue  # already reported as a link to a missing invoice
        total = _receivable_total(invoice)
        if amount > total:
            last = credit_notes[number][-1]
            errors.append(
                InvoiceError(
                    last.meta,
                    f"credit notes for {number} add up to {amount}, more than the invoice total {total}",
                    last,
                )
            )
    return entries, errors
