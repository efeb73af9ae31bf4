"""Receivables derived from the books: each invoice's paid, credited and open amount, status, aging, statements.

Pure: it takes plain records (what books/extract.py read from the ledger) and a date. Nothing is stored by hand:
run it again on the same ledger and date and you get the same answer.

Rules, applied to everything dated on or before the date asked about:
- Drafts (flag !) are not issued: they have status draft and take no payments, credit or aging.
- A payment settles the invoices it names (its allocations); the rest of it is credit on the client's account.
  A reversal is a payment with negative amounts: what it settled reopens, what it left as credit is taken back.
- An invoice whose payments and credit notes come to more than its total (a credit note on a paid invoice, say)
  has a negative balance of its own: that excess is credit on account too, never a negative balance.
- Credit on account is applied to the client's oldest open issued invoices (by date, then number). For a client
  invoiced in another currency the books say where credit went (credit-application entries move deposit lots to
  invoice lots), and those entries are used instead, so each invoice's balance is exactly its lot in the books.
So for every client: sum of balances - credit on account = receivable (+ deposits) in the books, drafts aside.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .money import ZERO


class Status(StrEnum):
    """An invoice's status on a day, always derived from the ledger (never stored). A StrEnum: it prints, sorts
    and compares (`status == "paid"`) as its text, in JSON, CSV and Fava's queries alike."""

    DRAFT = "draft"  # billed, not finalized
    OPEN = "open"  # issued, nothing paid or credited, not yet due
    PARTIAL = "partial"  # issued, part paid or credited, not yet due
    PAID = "paid"  # nothing left to pay (paid, or credited in part and the rest paid)
    OVERDUE = "overdue"  # something left to pay after the due date
    CANCELLED = "cancelled"  # credited in full


STATUSES = tuple(Status)
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


class Doc(NamedTuple):
    """An invoice (or adjustment invoice) as the ledger holds it."""

    number: str
    account: str
    client: str
    date: dt.date
    due: dt.date
    total: Decimal
    currency: str
    draft: bool
    period: str = ""
    fx_rate: Decimal | None = None  # for an invoice in another currency than the books: its lot's rate


class Payment(NamedTuple):
    ref: str
    account: str
    client: str
    date: dt.date
    amount: Decimal  # received; negative for a reversal
    allocations: tuple[tuple[str, Decimal], ...]  # (invoice, amount) it settles
    currency: str
    method: str = ""
    reverses: str = ""


class Credit(NamedTuple):
    number: str
    invoice: str
    account: str
    client: str
    date: dt.date
    amount: Decimal
    currency: str
    reason: str = ""
    to_account: Decimal = ZERO  # the part the books hold as credit on account (a paid foreign invoice's lot was gone)


class Application(NamedTuple):
    """Credit on account in a foreign currency moved to an invoice by an entry in the books."""

    invoice: str
    account: str
    date: dt.date
    amount: Decimal


@dataclass(slots=True)
class InvoiceState:
    doc: Doc
    paid: Decimal = ZERO  # payments that name this invoice (net of reversals)
    credited: Decimal = ZERO  # credit notes on it
    overpaid: Decimal = ZERO  # paid + credited beyond its total: moved to credit on account
    credit_applied: Decimal = ZERO  # credit on account used on it
    status: Status = Status.OPEN
    days_overdue: int = 0

    @property
    def balance(self) -> Decimal:
        return self.doc.total - self.paid - self.credited - self.credit_applied + self.overpaid

    @property
    def settled(self) -> Decimal:
        """What payments and credit on account cover of it: paid + credit applied - what moved to credit."""
        return self.paid + self.credit_applied - self.overpaid


@dataclass
class Book:
    """Everyone's receivables on one date."""

    as_of: dt.date
    invoices: dict[str, InvoiceState] = field(default_factory=dict)
    credit: dict[str, Decimal] = field(default_factory=dict)  # unapplied credit on account, by client account


def derive(docs: Iterable[Doc], payments: Iterable[Payment], credits: Iterable[Credit], as_of: dt.date,
           applications: Iterable[Application] = ()) -> Book:
    """Every invoice's amounts and status on `as_of`."""
    return dated(settle(docs, payments, credits, as_of, applications), as_of)


def last_entry(docs: Iterable[Doc], payments: Iterable[Payment], credits: Iterable[Credit],
               applications: Iterable[Application] = ()) -> dt.date:
    """The date of the last record: settle() gives the same amounts on this day as on any day after it."""
    return max((r.date for records in (docs, payments, credits, applications) for r in records),
               default=dt.date.min)


def dated(book: Book, as_of: dt.date) -> Book:
    """The book with each invoice's status on `as_of`. Its amounts must hold every record dated up to `as_of`: a
    book settled on the last record's day (last_entry) serves any later day, since from then on only the statuses
    move (open becomes overdue, days late grow), never the amounts."""
    book.as_of = as_of
    for state in book.invoices.values():
        state.status, state.days_overdue = _status(state, as_of)
    return book


def settle(docs: Iterable[Doc], payments: Iterable[Payment], credits: Iterable[Credit], as_of: dt.date,
           applications: Iterable[Application] = ()) -> Book:
    """Every invoice's amounts (paid, credited, overpaid, credit applied) and each client's credit on account,
    from everything dated on or before `as_of`. Statuses are left for dated()."""
    book = Book(as_of)
    pool: dict[str, Decimal] = defaultdict(Decimal)
    by_account: dict[str, list[InvoiceState]] = defaultdict(list)
    for doc in docs:
        if doc.date <= as_of:
            state = book.invoices[doc.number] = InvoiceState(doc)
            by_account[doc.account].append(state)
    for credit in credits:
        if credit.date > as_of:
            continue
        credited = book.invoices.get(credit.invoice)
        if credited is not None and not credited.doc.draft:
            credited.credited += credit.amount
            credited.overpaid += credit.to_account
        else:  # a credit note on an invoice not (yet) issued: the plugin reports it; the money still counts
            pool[credit.account] += credit.amount
    for payment in payments:
        if payment.date > as_of:
            continue
        unallocated = payment.amount
        for number, amount in payment.allocations:
            settled = book.invoices.get(number)
            if settled is not None and not settled.doc.draft:
                settled.paid += amount
                unallocated -= amount
        pool[payment.account] += unallocated
    in_books = {state.doc.account for state in book.invoices.values() if state.doc.fx_rate is not None}
    for application in applications:
        applied_to = book.invoices.get(application.invoice)
        if application.date <= as_of and applied_to is not None:
            applied_to.credit_applied += application.amount
            pool[application.account] -= application.amount
    for account, states in by_account.items():
        states.sort(key=lambda s: (s.doc.date, s.doc.number))
        for state in states:
            own = state.doc.total - state.paid - state.credited
            if not state.doc.draft:
                state.overpaid = max(state.overpaid, -own)
                pool[account] += state.overpaid
        for state in states:
            if pool[account] <= 0 or account in in_books:
                break
            if state.doc.draft or state.balance <= 0:
                continue
            use = min(pool[account], state.balance)
            state.credit_applied += use
            pool[account] -= use
    book.credit = {account: amount for account, amount in pool.items() if amount}
    return book


def _status(state: InvoiceState, as_of: dt.date) -> tuple[Status, int]:
    doc = state.doc
    if doc.draft:
        return Status.DRAFT, 0
    total, paid, credited, applied = doc.total, state.paid, state.credited, state.credit_applied
    if total > 0 and credited >= total:
        return Status.CANCELLED, 0
    if total - paid - credited - applied + state.overpaid <= 0:  # the balance (not the property: 120,000 calls)
        return Status.PAID, 0
    overdue = (as_of - doc.due).days
    if overdue > 0:
        return Status.OVERDUE, overdue
    if paid or credited or applied:
        return Status.PARTIAL, 0
    return Status.OPEN, 0


def bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


class AgingRow(NamedTuple):
    account: str
    client: str
    currency: str
    buckets: dict
    credit: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO) - self.credit


def aging(book: Book, names: dict[str, str]) -> list[AgingRow]:
    """Per client: open balances by days past due, and unapplied credit."""
    rows: dict[str, AgingRow] = {}
    for state in book.invoices.values():
        if state.doc.draft or state.balance <= 0:
            continue
        account = state.doc.account
        row = rows.setdefault(account, AgingRow(account, names.get(account, state.doc.client), state.doc.currency,
                                                {b: ZERO for b in AGING_BUCKETS}, ZERO))
        row.buckets[bucket((book.as_of - state.doc.due).days)] += state.balance
    for account, credit in book.credit.items():
        if credit:
            held = rows.get(account)
            currency = held.currency if held else next(
                (s.doc.currency for s in book.invoices.values() if s.doc.account == account), "")
            rows[account] = AgingRow(account, names.get(account, account), currency,
                                     held.buckets if held else {b: ZERO for b in AGING_BUCKETS}, credit)
    return sorted(rows.values(), key=lambda r: r.account)


class StatementLine(NamedTuple):
    date: dt.date
    kind: str  # invoice, payment, reversal, credit note
    reference: str
    description: str
    amount: Decimal  # + owed, - paid or credited
    balance: Decimal


class Statement(NamedTuple):
    account: str
    start: dt.date | None
    end: dt.date
    opening: Decimal
    lines: tuple[StatementLine, ...]
    closing: Decimal


def statement(account: str, docs, payments, credits, start: dt.date | None, end: dt.date) -> Statement:
    """Issued invoices, payments, reversals and credit notes of one client with a running balance."""
    events = []
    for d in docs:
        if d.account == account and not d.draft:
            text = f"Invoice {d.number}" + (f" ({d.period})" if d.period else "")
            events.append((d.date, 0, d.number, "invoice", text, d.total))
    for c in credits:
        if c.account == account:
            events.append(
                (
                    c.date,
                    1,
                    c.number,
                    "credit note",
                    f"Credit note on {c.invoice}" + (f": {c.reason}" if c.reason else ""),
                    -c.amount,
                )
            )
    for p in payments:
        if p.account == account:
            kind = "reversal" if p.reverses else "payment"
            text = (
                f"Reversal of payment {p.reverses}"
                if p.reverses
                else f"Payment {p.ref}" + (f" ({p.method})" if p.method else "")
            )
            events.append((p.date, 2, p.ref, kind, text, -p.amount))
    events.sort(key=lambda e: e[:3])
    opening = sum((e[5] for e in events if start is not None and e[0] < start), ZERO)
    balance = opening
    lines = []
    for date, _, ref, kind, text, amount in events:
        if (start is not None and date < start) or date > end:
            continue
        balance += amount
        lines.append(StatementLine(date, kind, ref, text, amount, balance))
    return Statement(account, start, end, opening, tuple(lines), balance)
