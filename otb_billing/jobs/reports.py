"""Reports derived from the ledger on a date: invoice status, aging, statements, revenue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from beancount.core import data

from ..books import postings, records_cache
from ..books.extract import Books, load_books
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.month import Month
from ..core.receivables import Book, InvoiceState, statement

BIG_LEDGER = 20 * 2**20  # bytes of ledger text that take Beancount long enough to load to say so first


def books_for_reports(root: Path, records_only: bool = False, notice: Callable[[str], None] | None = None) -> Books:
    """The ledger, loaded as bean-check loads it; InputErrors if it does not pass. With `records_only` (status,
    aging, statements: no raw entries needed) an unchanged ledger's records come from the last full load
    (books/records_cache.py). `notice` is told before a full load of a big ledger (it can take a minute)."""
    if records_only:
        kept = records_cache.load(root)
        if kept is not None:
            return kept
    size = sum(p.stat().st_size for p in (root / "ledger").rglob("*.beancount")) if notice is not None else 0
    if notice is not None and size > BIG_LEDGER:
        notice(f"Loading the whole ledger ({size / 2**20:.0f} MiB) with Beancount; the next report on an unchanged "
               "ledger reuses what this load finds")
    books = load_books(root / "ledger")
    if books.problems:
        raise InputErrors(books.problems + [Problem(None, "reports need a ledger that passes bean-check")])
    records_cache.store(root, books)
    return books


def receivables(root: Path, as_of: dt.date, notice: Callable[[str], None] | None = None) -> tuple[Book, dict]:
    """Every invoice's state on `as_of`, and the client names. On an unchanged ledger and a day on or after its last
    record, the amounts come as settled by the last full load (books/records_cache.py), with today's statuses;
    otherwise they are derived from the records."""
    kept = records_cache.book(root, as_of)
    if kept is not None:
        return kept
    books = books_for_reports(root, True, notice)
    return books.book(as_of), books.names


def status_rows(book: Book, month: Month | None, clients) -> list[InvoiceState]:
    rows = [
        s for s in book.invoices.values()
        if (month is None or s.doc.period == str(month)) and (not clients or s.doc.account in clients)
    ]
    rows.sort(key=lambda s: (s.doc.date, s.doc.number))
    return rows


def client_statement(books: Books, account: str, start: dt.date | None, end: dt.date):
    accounts = set(books.names) | {d.account for d in books.docs}
    if account not in accounts:
        raise InputErrors([Problem(None, f"no client {account} in the ledger", did_you_mean(account, accounts))])
    return statement(account, books.docs, books.payments, books.credits, start, end)


def revenue(books: Books, year: int | None) -> list[tuple[str, str, str, str, Decimal]]:
    """(month, client account, client, category, amount) from the income postings of issued and draft
    invoices, adjustments and credit notes, in the ledger's currency; amounts positive for income."""
    totals: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for entry in books.entries:
        if not isinstance(entry, data.Transaction):
            continue
        meta = entry.meta
        if "invoice" not in meta and "credit_note" not in meta:
            continue
        if year is not None and entry.date.year != year:
            continue
        account = str(meta.get("account", ""))
        for p in entry.postings:
            if p.account.startswith("Income:"):
                key = (f"{entry.date:%Y-%m}", account, books.names.get(account, entry.payee or ""),
                       p.account.removeprefix("Income:"))
                totals[key] -= postings.number(p)
    return [(*key, amount) for key, amount in sorted(totals.items())]
