"""Load the whole ledger (plugins included, as bean-check does) and read invoices, payments and credit notes.

The records it returns are the core's plain types (core/receivables.py); statuses are derived from them.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import Problem, Source
from ..core.receivables import Application, Book, Credit, Doc, Payment, derive
from ..gcpause import paused
from . import parse_cache, postings, verify
from .accounts import DEPOSITS_ROOT, RECEIVABLE_ROOT
from .invoice_files import source_of

if TYPE_CHECKING:
    from beancount.core import data


@dataclass
class Books:
    entries: list = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # client account -> name, from the receivable opens
    applications: list[Application] = field(default_factory=list)  # foreign credit on account moved to invoices

    def book(self, as_of: dt.date) -> Book:
        """Every invoice's state on `as_of` (core/receivables.py)."""
        return derive(self.docs, self.payments, self.credits, as_of, self.applications)

    def doc(self, number: str) -> Doc | None:
        return next((d for d in self.docs if d.number == number), None)

    def transaction(self, key: str, value: str) -> data.Transaction | None:
        from beancount.core import data

        return next((e for e in self.entries if isinstance(e, data.Transaction) and str(e.meta.get(key)) == value),
                    None)


def _receivable(entry: data.Transaction) -> tuple[Decimal, str]:
    total, currency = Decimal(0), ""
    for posting in entry.postings:
        if posting.account.startswith(RECEIVABLE_ROOT + ":"):
            total += postings.number(posting)
            currency = postings.currency(posting)
    return total, currency


def _deposits(entry: data.Transaction) -> Decimal:
    """Credit on account a payment or credit note leaves in a foreign currency (held in Liabilities:Deposits)."""
    return sum((postings.number(p) for p in entry.postings if p.account.startswith(DEPOSITS_ROOT + ":")), Decimal(0))


def _date(value, fallback: dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return fallback


def load_books(ledger: Path, for_change: bool = False) -> Books:
    """The whole ledger through Beancount's loader, plugin included: what bean-check sees, errors and all.

    `for_change`: the caller is about to change the ledger. Beancount pickles any load over a second beside
    main.beancount for the next load, but the change makes that pickle stale at once (a ledger of 12,000
    invoices: 2.4 s of a 6 s load spent pickling, for each `otb pay`). So the load reads a pickle that is fresh
    (newer than every ledger file), and otherwise loads without writing one."""
    from beancount import loader

    books = Books()
    main = ledger / "main.beancount"
    if not main.exists():
        return books
    # without the collector (a quarter of a load was it walking the new entries, which hold no cycles), and
    # files unchanged since the last load of this process's kind read back from the parse cache
    with paused(), parse_cache.serving(ledger.parent):
        if for_change and not _fresh_pickle(ledger, main):
            entries, errors, options = verify.load_uncached(main)
        else:
            entries, errors, options = loader.load_file(str(main))
    books.entries, books.options = entries, options
    for error in errors:
        books.problems.append(Problem(source_of(error.source, ledger), f"bean-check: {error.message}"))
    extract_records(books, entries, ledger)
    return books


def _fresh_pickle(ledger: Path, main: Path) -> bool:
    """Whether Beancount's pickle cache of `main` is newer than every ledger file (Beancount would use it)."""
    from beancount import loader

    try:
        cached = os.stat(loader.get_cache_filename(loader.PICKLE_CACHE_FILENAME, str(main))).st_mtime
        return all(os.stat(path).st_mtime <= cached for path in ledger.rglob("*.beancount"))
    except (OSError, AttributeError):
        return False


OTB_FILES = ("accounts.beancount", "invoices/*/*.beancount", "payments/*.beancount", "credits/*.beancount")


def scan_books(ledger: Path) -> Books:
    """The records of the files otb writes, read with Beancount's parser only (no booking, no plugins): several
    times faster than load_books on a big ledger, for `otb bill`, which needs only the amounts."""
    from beancount.parser import parser

    books = Books()
    for pattern in OTB_FILES:
        for path in sorted(ledger.glob(pattern)):
            entries, errors, _ = parser.parse_file(str(path))
            for error in errors:
                books.problems.append(Problem(source_of(error.source, ledger), f"ledger: {error.message}"))
            extract_records(books, entries, ledger)
    return books


def extract_records(books: Books, entries, ledger: Path | None = None) -> None:
    """The records of `entries` added to `books`; an entry otb cannot read (an amount left out) is a problem
    with its file and line (relative to `ledger`'s repo when given)."""
    from beancount.core import data  # (there are entries: it is loaded)

    for entry in entries:
        try:
            _extract(books, entry, data)
        except postings.MissingAmount as exc:
            source = source_of(exc.meta, ledger) if ledger is not None else Source(
                str(exc.meta.get("filename", "ledger")), int(exc.meta.get("lineno", 0) or 0))
            books.problems.append(Problem(source, f"ledger: {exc}"))


def _extract(books: Books, entry, data) -> None:
    if isinstance(entry, data.Open) and entry.account.startswith(RECEIVABLE_ROOT + ":"):
        if "account_number" in entry.meta:
            books.names[str(entry.meta["account_number"])] = str(entry.meta.get("client", ""))
    if not isinstance(entry, data.Transaction):
        return
    meta = entry.meta
    total, currency = _receivable(entry)
    account = str(meta.get("account", ""))
    if "invoice" in meta:
        books.docs.append(Doc(str(meta["invoice"]), account, entry.payee or "", entry.date,
                              _date(meta.get("due"), entry.date), total, currency, entry.flag == "!",
                              str(meta.get("period", "")),
                              Decimal(str(meta["fx_rate"])) if "fx_rate" in meta else None))
    elif "credit_application" in meta:
        for p in entry.postings:
            if p.account.startswith(RECEIVABLE_ROOT + ":") and p.meta and "invoice" in p.meta:
                books.applications.append(Application(str(p.meta["invoice"]), account, entry.date,
                                                      -postings.number(p)))
    elif "payment" in meta:
        total += _deposits(entry)
        allocations = tuple(
            (str(p.meta["invoice"]), -postings.number(p))
            for p in entry.postings
            if p.account.startswith(RECEIVABLE_ROOT + ":") and p.meta and "invoice" in p.meta
        )
        books.payments.append(Payment(str(meta["payment"]), account, entry.payee or "", entry.date, -total,
                                      allocations, currency, str(meta.get("method", "")),
                                      str(meta.get("reverses", ""))))
    elif "credit_note" in meta:
        held = _deposits(entry)  # the part of a credit on a paid foreign invoice held as credit on account
        books.credits.append(Credit(str(meta["credit_note"]), str(meta.get("credits", "")), account,
                                    entry.payee or "", entry.date, -(total + held), currency,
                                    str(meta.get("reason", "")), -held))
