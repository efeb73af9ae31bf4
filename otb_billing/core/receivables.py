"""Receivables derived from the books: each invoice's paid, credited and open amount, status, aging, statements.

Pure: it takes plain records (what books/extract.py read from the ledger) and a date. Nothing is stored by hand:
run it again on the same ledger and date and you get the same answer.

Rules:
- Drafts (flag !) are not issued: they have status draft and take no payments, credit or aging.
- A payment settles the invoices it names (its allocations); any excess is credit on the client's account.
- Credit on account is applied automatically to the client's oldest open invoices, as soon as both exist.
- A reversal is a payment with negative amounts: what it reverses reopens; credit it takes back is first
  taken from what is unapplied, then from the newest invoices it had been applied to.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, NamedTuple

from .money import ZERO

STATUSES = ("draft", "open", "partial", "paid", "overdue", "cancelled")
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


@dataclass
class InvoiceState:
    doc: Doc
    paid: Decimal = ZERO
    credited: Decimal = ZERO
    credit_applied: Decimal = ZERO
    status: str = "open"
    days_overdue: int = 0

    @property
    def balance(self) -> Decimal:
        return self.doc.total - self.paid - self.credited - self.credit_applied


@dataclass
class Book:
    """Everyone's receivables on one date."""

    as_of: dt.date
    invoices: dict[str, InvoiceState] = field(default_factory=dict)
    credit: dict[str, Decimal] = field(default_factory=dict)  # unapplied credit on account, by client account


def _events(docs, payments, credits, as_of):
    """(date, order, kind, record) up to as_of: invoices first on a day, then credits, then payments."""
    events = [(d.date, 0, i, "doc", d) for i, d in enumerate(docs) if d.date <= as_of]
    events += [(c.date, 1, i, "credit", c) for i, c in enumerate(credits) if c.date <= as_of]
    events += [(p.date, 2, i, "payment", p) for i, p in enumerate(payments) if p.date <= as_of]
    events.sort(key=lambda e: e[:3])
    return events


def derive(docs: Iterable[Doc], payments: Iterable[Payment], credits: Iterable[Credit], as_of: dt.date) -> Book:
    book = Book(as_of)
    pool: dict[str, Decimal] = defaultdict(Decimal)
    by_account: dict[str, list[InvoiceState]] = defaultdict(list)  # in the order issued
    applied_order: dict[str, list[InvoiceState]] = defaultdict(list)
    for _, _, _, kind, record in _events(list(docs), list(payments), list(credits), as_of):
        account = record.account
        if kind == "doc":
            state = InvoiceState(record)
            book.invoices[record.number] = state
            by_account[account].append(state)
        elif kind == "credit":
            state = book.invoices.get(record.invoice)
            if state is not None:
                state.credited += record.amount
        else:
            allocated = ZERO
            for number, amount in record.allocations:
                state = book.invoices.get(number)
                if state is not None:
                    state.paid += amount
                    allocated += amount
            pool[account] += record.amount - allocated
            if pool[account] < 0:
                _take_back(pool, account, applied_order[account])
        if pool[account] > 0:
            _apply_credit(pool, account, by_account[account], applied_order[account])
    for state in book.invoices.values():
        state.status, state.days_overdue = _status(state, as_of)
    book.credit = {account: amount for account, amount in pool.items() if amount}
    return book


def _apply_credit(pool: dict[str, Decimal], account: str, states: list[InvoiceState],
                  applied: list[InvoiceState]) -> None:
    """Credit on account to the client's oldest open issued invoices."""
    for state in sorted(states, key=lambda s: (s.doc.date, s.doc.number)):
        if pool[account] <= 0:
            break
        if state.doc.draft or state.balance <= 0:
            continue
        use = min(pool[account], state.balance)
        state.credit_applied += use
        pool[account] -= use
        applied.append(state)


def _take_back(pool: dict[str, Decimal], account: str, applied: list[InvoiceState]) -> None:
    while pool[account] < 0 and applied:
        state = applied[-1]
        back = min(-pool[account], state.credit_applied)
        state.credit_applied -= back
        pool[account] += back
        if state.credit_applied == 0:
            applied.pop()


def _status(state: InvoiceState, as_of: dt.date) -> tuple[str, int]:
    doc = state.doc
    if doc.draft:
        return "draft", 0
    if doc.total > 0 and state.credited >= doc.total:
        return "cancelled", 0
    if state.balance <= 0:
        return "paid", 0
    overdue = (as_of - doc.due).days
    if overdue > 0:
        return "overdue", overdue
    if state.paid or state.credited or state.credit_applied:
        return "partial", 0
    return "open", 0


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
        if credit > 0:
            row = rows.get(account)
            currency = row.currency if row else next(
                (s.doc.currency for s in book.invoices.values() if s.doc.account == account), "")
            rows[account] = AgingRow(account, names.get(account, account), currency,
                                     row.buckets if row else {b: ZERO for b in AGING_BUCKETS}, credit)
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
            events.append((d.date, 0, d.number, "invoice", f"Invoice {d.number}" + (f" ({d.period})" if d.period else ""), d.total))
    for c in credits:
        if c.account == account:
            events.append((c.date, 1, c.number, "credit note", f"Credit note on {c.invoice}" + (f": {c.reason}" if c.reason else ""), -c.amount))
    for p in payments:
        if p.account == account:
            kind = "reversal" if p.reverses else "payment"
            text = f"Reversal of payment {p.reverses}" if p.reverses else f"Payment {p.ref}" + (f" ({p.method})" if p.method else "")
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
