"""Foreign-currency credit on account, applied in the books to the client's oldest open invoices.

For a client invoiced in another currency, each invoice is a receivable lot at its own rate and credit on account
is a deposit lot (`Liabilities:Deposits:<ACCOUNT>`) at the rate it came in: an overpayment, or a credit note on an
invoice that was already paid. After every change to the books, `applications()` writes the entries that move
units from the deposit lots (oldest first) to the oldest open issued invoices' lots, booking the FX difference
between the two rates, so a client never holds credit and an open invoice at once, and both lots end at zero when
the client is square. The receivables derivation reads these entries: what the books applied is what it shows.

Every lot reduction is capped by what the lot holds from its date on (`lot_open_after`), so an entry can never
take what a later entry already took: Beancount would otherwise make a negative lot of it, silently.
Each entry is dated the day after the latest of the invoice and the deposits it uses: Beancount books entries of
one day in line order across files, so a later day is the only order that holds wherever the entries live.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from beancount.core import data
from beancount.parser import parser

from ..books import postings
from ..books.accounts import DEPOSITS_ROOT, RECEIVABLE_ROOT, deposits
from ..books.entries import render_credit_application
from ..books.extract import Books, extract_records
from ..core.money import ZERO


def _per_unit(cost) -> Decimal:
    number = getattr(cost, "number", None)
    return cost.number_per if number is None else number


@dataclass
class _Lot:
    """Foreign credit on account still held in one deposit lot, used up as invoices take it."""

    label: str
    rate: Decimal
    day: dt.date
    left: Decimal


def lots_held(entries, account: str) -> dict[str, tuple[Decimal, dt.date, Decimal]]:
    """A client's foreign credit on account still held: label -> (rate, date, units left, positive)."""
    held: dict[str, list] = {}
    name = deposits(account)
    for entry in entries:
        for p in getattr(entry, "postings", ()):
            if p.account == name and p.cost is not None:
                lot = held.setdefault(p.cost.label, [_per_unit(p.cost), p.cost.date, ZERO])
                lot[2] -= postings.number(p)
    return {label: (rate, day, left) for label, (rate, day, left) in held.items() if left}


class LotIndex:
    """Each (account, lot label)'s units posted, in date order: built once per change, so that capping many
    lot reductions does not sort the whole ledger again for each one."""

    def __init__(self, entries) -> None:
        self.moves: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = {}
        for entry in sorted((e for e in entries if isinstance(e, data.Transaction)), key=lambda e: e.date):
            for p in entry.postings:
                if p.cost is not None:
                    self.moves.setdefault((p.account, p.cost.label or ""), []).append(
                        (entry.date, postings.number(p)))


def lot_open_after(entries, account: str, label: str, day: dt.date, root: str = RECEIVABLE_ROOT) -> Decimal:
    """The least a lot (`label`) of the client's receivable holds on `day` or any later day: what a new entry
    dated `day` may still take from it without making a later entry (a payment already recorded) run short.
    For a deposit lot (root Liabilities:Deposits) the units are counted positive. `entries` may be a LotIndex."""
    index = entries if isinstance(entries, LotIndex) else LotIndex(entries)
    sign = -1 if root == DEPOSITS_ROOT else 1
    moves = index.moves.get((f"{root}:{account.upper()}", label), [])
    running = sum((sign * units for when, units in moves if when < day), ZERO)
    lowest = running
    for when, units in moves:
        if when >= day:
            running += sign * units
            lowest = min(lowest, running)
    return lowest


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

    entries = list(books.entries) + list(new_entries)
    extra = Books()
    extract_records(extra, new_entries)
    issued = {d.number for d in books.docs if not d.draft} | set(issuing)
    docs = [d for d in books.docs + extra.docs if d.fx_rate is not None and d.number in issued]
    by_file: dict[Path, list[str]] = {}
    index = LotIndex(entries)
    for account in sorted({d.account for d in docs}):
        deposits_left = sorted(
            (_Lot(label, rate, day, left) for label, (rate, day, left) in lots_held(entries, account).items()
             if left > 0),
            key=lambda lot: (lot.day, lot.label),
        )
        if not deposits_left:
            continue
        for doc in sorted((d for d in docs if d.account == account), key=lambda d: (d.date, d.number)):
            taken: list[tuple[str, Decimal, dt.date, Decimal]] = []  # (label, rate, date, units) of each lot used
            day = doc.date
            for lot in deposits_left:
                if lot.left <= 0:
                    continue
                when = max(doc.date, lot.day) + dt.timedelta(days=1)
                room = min(
                    lot_open_after(index, account, doc.number, when) - sum((t[3] for t in taken), ZERO),
                    lot_open_after(index, account, lot.label, when, DEPOSITS_ROOT),
                )
                part = min(lot.left, room)
                if part <= 0:
                    continue
                taken.append((lot.label, lot.rate, lot.day, part))
                lot.left -= part
                day = when
            if not taken:
                continue
            block = render_credit_application(
                account=account,
                client=doc.client,
                day=day,
                invoice=doc.number,
                invoice_lot=(doc.fx_rate, doc.date),
                amount=sum((t[3] for t in taken), ZERO),
                credit_lots=taken,
                currency=doc.currency,
                base=base,
            )
            entries += parsed([block])
            by_file.setdefault(payments_file(root, day), []).append(block)
    return by_file
