"""Foreign-currency credit on account, kept in the books the way the receivables derivation applies it.

For a client invoiced in another currency, each invoice is a receivable lot at its own rate and credit on account
is a deposit lot (`Liabilities:Deposits:<ACCOUNT>`) at the rate it came in: an overpayment, or a credit note on an
invoice that was already paid. core/receivables.py decides which invoices credit on account pays (the oldest open
ones). Whenever a change gives an invoice more credit than the books have moved to it, an entry moves those units
from the deposit lots (oldest first) to the invoice's lot and books the FX difference between the two rates, so
both lots end at zero when the client is square.

Each entry is dated the day after the latest of the invoice and the deposits it uses: Beancount books entries of
one day in line order across files, so a later day is the only order that holds wherever the entries live.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from beancount.core import data
from beancount.parser import parser

from ..books.accounts import RECEIVABLE_ROOT, deposits
from ..books.documents import render_credit_application
from ..books.extract import Books, extract_records
from ..core.money import ZERO
from ..core.receivables import derive


def _per_unit(cost) -> Decimal:
    number = getattr(cost, "number", None)
    return cost.number_per if number is None else number


def lots_held(entries, account: str) -> dict[str, tuple[Decimal, dt.date, Decimal]]:
    """A client's foreign credit on account still held: label -> (rate, date, units left, positive)."""
    held: dict[str, list] = {}
    name = deposits(account)
    for entry in entries:
        for p in getattr(entry, "postings", ()):
            if p.account == name and p.cost is not None:
                lot = held.setdefault(p.cost.label, [_per_unit(p.cost), p.cost.date, ZERO])
                lot[2] -= p.units.number
    return {label: (rate, day, left) for label, (rate, day, left) in held.items() if left}


def lot_open_after(entries, account: str, label: str, day: dt.date) -> Decimal:
    """The least an invoice's receivable lot holds on `day` or any later day: what a new entry dated `day` may
    still take from it without making a later entry (a payment already recorded) run short."""
    name = f"{RECEIVABLE_ROOT}:{account.upper()}"
    running, lowest, started = ZERO, None, False
    for entry in sorted((e for e in entries if isinstance(e, data.Transaction)), key=lambda e: e.date):
        if entry.date >= day and not started:
            started, lowest = True, running
        for p in entry.postings:
            if p.account == name and p.cost is not None and p.cost.label == label:
                running += p.units.number
        if started:
            lowest = min(lowest, running)
    return running if lowest is None else lowest


def parsed(texts) -> list:
    """Entries of new ledger text, as Beancount's parser reads them (no booking)."""
    entries = []
    for text in texts:
        found, errors, _ = parser.parse_string(text)
        entries += [e for e in found if isinstance(e, data.Transaction)]
    return entries


def applications(root: Path, base: str, books: Books, new_entries=(), issuing=()) -> dict[Path, list[str]]:
    """The credit-application entries the books need after a change, by payments file.

    `new_entries` are the change's own entries (parsed); `issuing` the invoice numbers being finalized.
    """
    from .payments import payments_file

    extra = Books()
    extract_records(extra, new_entries)
    issuing = set(issuing)
    docs = [d._replace(draft=False) if d.number in issuing else d for d in books.docs]
    book = derive(docs, books.payments + extra.payments, books.credits + extra.credits, dt.date.max)
    entries = list(books.entries) + list(new_entries)
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction) and "credit_application" in entry.meta:
            for p in entry.postings:
                if p.account.startswith(RECEIVABLE_ROOT + ":") and p.meta and "invoice" in p.meta:
                    applied[str(p.meta["invoice"])] -= p.units.number
    by_file: dict[Path, list[str]] = {}
    foreign = sorted({d.account for d in docs if d.fx_rate is not None})
    for account in foreign:
        lots = sorted(([label, rate, day, left] for label, (rate, day, left) in lots_held(entries, account).items()
                       if left > 0), key=lambda lot: (lot[2], lot[0]))
        if not lots:
            continue
        states = sorted((s for s in book.invoices.values() if s.doc.account == account and not s.doc.draft
                         and s.doc.fx_rate is not None), key=lambda s: (s.doc.date, s.doc.number))
        for state in states:
            need = state.credit_applied - applied[state.doc.number]
            taken = []
            for lot in lots:
                if need <= 0:
                    break
                part = min(need, lot[3])
                if part > 0:
                    taken.append((lot[0], lot[1], lot[2], part))
                    lot[3] -= part
                    need -= part
            if not taken:
                continue
            doc = state.doc
            day = max([doc.date] + [t[2] for t in taken]) + dt.timedelta(days=1)
            amount = sum((t[3] for t in taken), ZERO)
            block = render_credit_application(account=account, client=doc.client, day=day, invoice=doc.number,
                                              invoice_lot=(doc.fx_rate, doc.date), amount=amount, credit_lots=taken,
                                              currency=doc.currency, base=base)
            by_file.setdefault(payments_file(root, day), []).append(block)
    return by_file

