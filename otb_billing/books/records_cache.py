"""The records reports need (invoices, payments, credit notes, credit applications, client names), kept between
runs for a ledger that has not changed.

`otb status` and `otb aging` on 120,000 invoices spent ~20 s in Beancount's loader (even with its own pickle
cache) to find the same records as last time. After a full load that passed bean-check, the records are stored
in `.otb/cache/records.marshal` with the ledger's signature (every file's name, size, mtime and inode, and the
versions of otb and Beancount: books/verify.py) and the version of otb's code; the next report on an unchanged
ledger reads them back in a fraction of a second. Any change to any ledger file means a full load again.

marshal, not pickle: plain tuples of strings and ints read back several times faster than pickled Decimals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import marshal
import os
from decimal import Decimal
from pathlib import Path

from ..core.receivables import Application, Credit, Doc, Payment
from ..filecache import code_version
from ..gcpause import paused
from .extract import Books
from .verify import signature

CACHE_FILE = Path(".otb") / "cache" / "records.marshal"
FORMAT = 1


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _pack(books: Books) -> tuple:
    docs = [(d.number, d.account, d.client, d.date.toordinal(), d.due.toordinal(), str(d.total), d.currency,
             d.draft, d.period, _dec(d.fx_rate)) for d in books.docs]
    payments = [(p.ref, p.account, p.client, p.date.toordinal(), str(p.amount),
                 tuple((number, str(amount)) for number, amount in p.allocations), p.currency, p.method, p.reverses)
                for p in books.payments]
    credits = [(c.number, c.invoice, c.account, c.client, c.date.toordinal(), str(c.amount), c.currency, c.reason,
                str(c.to_account)) for c in books.credits]
    applications = [(a.invoice, a.account, a.date.toordinal(), str(a.amount)) for a in books.applications]
    return docs, payments, credits, applications, dict(books.names)


def _unpack(packed: tuple) -> Books:
    docs, payments, credits, applications, names = packed
    day, dec = dt.date.fromordinal, Decimal
    books = Books(names=names)
    books.docs = [Doc(n, a, c, day(d), day(due), dec(t), cur, draft, period, None if fx is None else dec(fx))
                  for n, a, c, d, due, t, cur, draft, period, fx in docs]
    books.payments = [Payment(r, a, c, day(d), dec(amt), tuple((n, dec(x)) for n, x in alloc), cur, m, rev)
                      for r, a, c, d, amt, alloc, cur, m, rev in payments]
    books.credits = [Credit(n, inv, a, c, day(d), dec(amt), cur, why, dec(held))
                     for n, inv, a, c, d, amt, cur, why, held in credits]
    books.applications = [Application(inv, a, day(d), dec(amt)) for inv, a, d, amt in applications]
    return books


def _key(root: Path) -> str:
    return f"{FORMAT}|{code_version()}|{signature(root / 'ledger')}"


def load(root: Path) -> Books | None:
    """The records of the ledger as it is now, if they were stored for exactly these files; else None."""
    try:
        data = (root / CACHE_FILE).read_bytes()  # marshal.load on a file reads object by object: 10x slower
        with paused():
            key, packed = marshal.loads(data)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if key != _key(root):
        return None
    try:
        with paused(freeze=True):  # the records live as long as the report
            return _unpack(packed)
    except (ValueError, TypeError, ArithmeticError):  # a damaged file: only a slower run
        return None


def store(root: Path, books: Books) -> None:
    """Keep the records of a ledger that just passed a full load (a plain temp + replace: losing it costs time)."""
    path = root / CACHE_FILE
    temp = root / ".otb" / "tmp" / f"records.{os.getpid()}"
    with contextlib.suppress(OSError):
        temp.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(marshal.dumps((_key(root), _pack(books))))
        os.replace(temp, path)
