"""The records reports need (invoices, payments, credit notes, credit applications, client names), kept between
runs for a ledger that has not changed, with every invoice's amounts as of the last record.

`otb status` and `otb aging` on 120,000 invoices spent ~20 s in Beancount's loader (even with its own pickle
cache) to find the same records as last time. After a full load that passed bean-check, the records are stored
in `.otb/cache/records.marshal` with the ledger's signature (every file's name, size, mtime and inode, and the
versions of otb and Beancount: books/verify.py) and the version of otb's code; the next report on an unchanged
ledger reads them back in a fraction of a second. Any change to any ledger file means a full load again.

The file also keeps the book settled on the day of the last record (core/receivables.py `settle`): what every
invoice has been paid and credited, and each client's credit on account. Those amounts are the same on any later
day (only statuses move with the date), so `status` and `aging` as of that day or later take them as they are and
never read the payments back (`book`). A date before the last record means the whole derivation, as before.

Three sections, each marshalled on its own so a report unpacks only what it uses: the invoices, their settled
amounts, and the rest (payments, credit notes, applications). Columns, not rows: one tuple per field instead of
one per record, and every repeated text (account, client, currency) stored once.

marshal, not pickle: plain tuples of strings and ints read back several times faster than pickled Decimals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import marshal
import os
from decimal import Decimal
from pathlib import Path

from ..core.money import ZERO
from ..core.receivables import Application, Book, Credit, Doc, InvoiceState, Payment, dated, last_entry, settle
from ..filecache import code_version
from ..gcpause import paused
from .extract import Books
from .verify import signature

CACHE_FILE = Path(".otb") / "cache" / "records.marshal"
FORMAT = 2


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimals(texts) -> list:
    return [None if text is None else Decimal(text) for text in texts] if None in texts else list(map(Decimal, texts))


def _sparse(amounts: list[Decimal]) -> dict[int, str]:
    """A column of amounts that are mostly ZERO (credited, overpaid, ...): only the others, by position."""
    return {i: str(amount) for i, amount in enumerate(amounts) if amount is not ZERO}


def _dense(sparse: dict[int, str], size: int) -> list[Decimal]:
    amounts = [ZERO] * size
    for i, text in sparse.items():
        amounts[i] = Decimal(text)
    return amounts


def _days(ordinals) -> list:
    made = {ordinal: dt.date.fromordinal(ordinal) for ordinal in set(ordinals)}
    return list(map(made.__getitem__, ordinals))


def _pack_docs(docs: list[Doc]) -> bytes:
    seen: dict[str, str] = {}
    one = seen.setdefault  # equal texts become one object, which marshal writes once and refers back to
    return marshal.dumps((
        [d.number for d in docs], [one(d.account, d.account) for d in docs], [one(d.client, d.client) for d in docs],
        [d.date.toordinal() for d in docs], [d.due.toordinal() for d in docs], [str(d.total) for d in docs],
        [one(d.currency, d.currency) for d in docs], [d.draft for d in docs], [one(d.period, d.period) for d in docs],
        [_text(d.fx_rate) for d in docs]))


def _unpack_docs(blob: bytes) -> list[Doc]:
    numbers, accounts, clients, dates, dues, totals, currencies, drafts, periods, rates = marshal.loads(blob)
    return list(map(Doc._make, zip(numbers, accounts, clients, _days(dates), _days(dues), _decimals(totals),
                                   currencies, drafts, periods, _decimals(rates), strict=True)))


def _pack_settled(books: Books) -> bytes | None:
    """The book on the day of the last record, its amounts in the docs' order; None when two invoices share a
    number (the ledger check refuses that, but then the order would not say which amounts are whose)."""
    last = last_entry(books.docs, books.payments, books.credits, books.applications)
    book = settle(books.docs, books.payments, books.credits, last, books.applications)
    if len(book.invoices) != len(books.docs):
        return None
    states = [book.invoices[d.number] for d in books.docs]
    return marshal.dumps((
        last.toordinal(), _sparse([s.paid for s in states]), _sparse([s.credited for s in states]),
        _sparse([s.overpaid for s in states]), _sparse([s.credit_applied for s in states]),
        {account: str(amount) for account, amount in book.credit.items()}, dict(books.names)))


def _unpack_book(docs: list[Doc], blob: bytes, as_of: dt.date) -> tuple[Book, dict[str, str]] | None:
    last, paid, credited, overpaid, applied, credit, names = marshal.loads(blob)
    if as_of.toordinal() < last:
        return None  # a day before the last record: its amounts are not these
    size = len(docs)
    states = map(InvoiceState, docs, _dense(paid, size), _dense(credited, size), _dense(overpaid, size),
                 _dense(applied, size))
    book = Book(as_of, dict(zip([d.number for d in docs], states, strict=True)),
        {account: Decimal(amount) for account, amount in credit.items()})
    return dated(book, as_of), names


def _pack_rest(books: Books) -> bytes:
    seen: dict[str, str] = {}
    one = seen.setdefault
    payments = [(p.ref, one(p.account, p.account), one(p.client, p.client), p.date.toordinal(), str(p.amount),
                 tuple((one(number, number), str(amount)) for number, amount in p.allocations),
                 one(p.currency, p.currency), one(p.method, p.method), p.reverses) for p in books.payments]
    credits = [(c.number, c.invoice, c.account, c.client, c.date.toordinal(), str(c.amount), c.currency, c.reason,
                str(c.to_account)) for c in books.credits]
    applications = [(a.invoice, a.account, a.date.toordinal(), str(a.amount)) for a in books.applications]
    return marshal.dumps((payments, credits, applications, dict(books.names)))


def _unpack_rest(books: Books, blob: bytes) -> Books:
    payments, credits, applications, names = marshal.loads(blob)
    day, dec = dt.date.fromordinal, Decimal
    books.names = names
    books.payments = [Payment(r, a, c, day(d), dec(amt), tuple((n, dec(x)) for n, x in alloc), cur, m, rev)
                      for r, a, c, d, amt, alloc, cur, m, rev in payments]
    books.credits = [Credit(n, inv, a, c, day(d), dec(amt), cur, why, dec(held))
                     for n, inv, a, c, d, amt, cur, why, held in credits]
    books.applications = [Application(inv, a, day(d), dec(amt)) for inv, a, d, amt in applications]
    return books


def _key(root: Path) -> str:
    return f"{FORMAT}|{code_version()}|{signature(root / 'ledger')}"


def _sections(root: Path) -> tuple | None:
    """(docs, settled, rest) as marshalled, if they were stored for exactly the ledger's files as they are now."""
    try:
        data = (root / CACHE_FILE).read_bytes()  # marshal.load on a file reads object by object: 10x slower
        key, *sections = marshal.loads(data)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if key != _key(root) or len(sections) != 3:
        return None
    return tuple(sections)


def load(root: Path) -> Books | None:
    """The records of the ledger as it is now, if they were stored for exactly these files; else None."""
    sections = _sections(root)
    if sections is None:
        return None
    try:
        with paused(freeze=True):  # the records live as long as the report
            return _unpack_rest(Books(docs=_unpack_docs(sections[0])), sections[2])
    except (ValueError, TypeError, EOFError, ArithmeticError):  # a damaged file: only a slower run
        return None


def book(root: Path, as_of: dt.date) -> tuple[Book, dict[str, str]] | None:
    """Every invoice's state on `as_of` and the client names, from the stored book, when the ledger is unchanged
    and `as_of` is on or after its last record; else None (load the records and derive)."""
    sections = _sections(root)
    if sections is None or sections[1] is None:
        return None
    try:
        with paused(freeze=True):
            return _unpack_book(_unpack_docs(sections[0]), sections[1], as_of)
    except (ValueError, TypeError, EOFError, ArithmeticError):
        return None


def store(root: Path, books: Books) -> None:
    """Keep the records of a ledger that just passed a full load (a plain temp + replace: losing it costs time)."""
    store_packed(root, pack(books))


def pack(books: Books) -> tuple[bytes, bytes | None, bytes]:
    """The sections store_packed keeps (made apart from storing, by the process that loaded the ledger)."""
    return _pack_docs(books.docs), _pack_settled(books), _pack_rest(books)


def store_packed(root: Path, sections: tuple[bytes, bytes | None, bytes]) -> None:
    """Keep `sections` (pack) for the ledger's files as they are now: the caller vouches that they are the records
    of exactly these files (a full load of them, or the check of the change that made them)."""
    path = root / CACHE_FILE
    temp = root / ".otb" / "tmp" / f"records.{os.getpid()}"
    with contextlib.suppress(OSError):
        temp.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(marshal.dumps((_key(root), *sections)))
        os.replace(temp, path)

