"""`otb pay` and `otb pay --reverse`: record money received (or bounced) against a client's invoices.

Retrying is safe: a payment is known by its reference, and the default reference is made from the client and the
date, so running the same `otb pay` twice (after a crash, say) records it once and says so the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from ..books import postings
from ..books.accounts import DEPOSITS_ROOT, FX_ACCOUNT, deposits
from ..books.entries import PaymentEntry, render_foreign_payment, render_payment, reversal_of
from ..books.extract import Books
from ..books.prices import read_prices
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.money import ZERO, check_amount
from ..core.receivables import Payment
from .applications import applications, lot_open_after, lots_held, parsed
from .ledger_edit import (
    appended,
    checked_change,
    commit_ledger,
    in_books_currency,
    ledger_file_edits,
    open_books,
    payments_header,
)

METHODS = ("cheque", "eft", "card", "cash", "crypto", "interac", "wire")


class PaymentResult(NamedTuple):
    ref: str
    allocations: tuple[tuple[str, Decimal], ...]
    unapplied: Decimal
    path: Path
    currency: str = ""
    already: bool = False  # the same payment was already recorded: nothing was written


def payments_file(root: Path, day: dt.date) -> Path:
    return root / "ledger" / "payments" / f"{day.year:04d}.beancount"


def _used_refs(books: Books) -> set[str]:
    return {p.ref for p in books.payments}


def allocate(books: Books, account: str, amount: Decimal, invoices: Sequence[str], as_of: dt.date):
    """(allocations, unapplied): the named invoices in order; else the open invoice whose balance is exactly the
    amount (the oldest such); else the oldest open ones, up to their balances.

    Only invoices issued on or before the payment date can be settled by it; the rest is credit on account. An
    invoice is open for what it owes on that date and still owes after everything recorded (a payment dated
    earlier than ones already recorded settles only what they left), and a foreign invoice for no more than its
    lot in the books holds from that date on.
    """
    states = books.book(as_of).invoices
    after = books.book(dt.date.max).invoices

    def owed(state) -> Decimal:
        number = state.doc.number
        left = min(state.balance, after[number].balance if number in after else state.balance)
        if state.doc.fx_rate is not None:
            left = min(left, lot_open_after(books.entries, account, number, as_of))
        return max(ZERO, left)

    if invoices:
        chosen = []
        for number in invoices:
            state = states.get(number)
            later = books.doc(number)
            if state is None and later is not None and later.account == account:
                raise InputErrors([Problem(None, f"--invoice {number} is dated {later.date}, after the payment "
                                           f"({as_of})", "check --date")])
            if state is None or state.doc.account != account:
                mine = [n for n, s in states.items() if s.doc.account == account]
                raise InputErrors([Problem(None, f"--invoice {number}: no invoice of client {account} has this number",
                                           did_you_mean(number, mine))])
            if state.doc.draft:
                raise InputErrors([Problem(None, f"--invoice {number} is still a draft",
                                           f"finalize it first: otb finalize {state.doc.period}")])
            chosen.append(state)
    else:
        chosen = sorted((s for s in states.values() if s.doc.account == account and not s.doc.draft),
                        key=lambda s: (s.doc.date, s.doc.number))
        exact = [s for s in chosen if owed(s) == amount]
        if exact:  # the amount of one open invoice: that is the invoice being paid, not the oldest
            chosen = exact[:1]
    left = amount
    allocations = []
    for state in chosen:
        part = min(left, owed(state))
        if part > 0:
            allocations.append((state.doc.number, part))
            left -= part
    return tuple(allocations), left


def foreign_payment(root: Path, config, books: Books, entry: PaymentEntry, rate: Decimal | None) -> str:
    """A payment in the client's own currency, at the day's rate (from ledger/prices.beancount or --rate)."""
    if rate is None:
        problems: list[Problem] = []
        found, why = read_prices(root / "ledger", config.settings.currency, problems).rate_on(entry.currency, entry.day)
        if found is None:
            raise InputErrors(problems + [Problem(None, why.replace("otb fx set", "use --rate, or otb fx set"))])
        rate = found[1]
    lots = {d.number: (d.fx_rate, d.date) for d in books.docs if d.account == entry.account and d.fx_rate}
    return render_foreign_payment(entry, base=config.settings.currency, rate=rate, lots=lots)


def _same(payment: Payment, account: str, day: dt.date, amount: Decimal) -> bool:
    return payment.account == account and payment.date == day and payment.amount == amount and not payment.reverses


def payment_ref(books: Books, account: str, day: dt.date, amount: Decimal, ref: str | None) -> tuple[str, bool]:
    """(the reference to record, whether this very payment is already recorded under it).

    Without --ref the reference is PAY-<account>-<date>, then -2, -3 ... for more payments that day; one that
    matches client, date and amount is the same payment again (a retry), never a second one."""
    by_ref = {p.ref: p for p in books.payments}
    if ref is not None:
        existing = by_ref.get(ref)
        if existing is None:
            return ref, False
        if _same(existing, account, day, amount):
            return ref, True
        raise InputErrors([Problem(None, f"payment {ref} is already recorded ({existing.date}, {existing.amount} "
                                   f"from {existing.account})", "give this payment its own --ref")])
    base = f"PAY-{account}-{day:%Y%m%d}"
    for n in range(1, 10_000):
        candidate = base if n == 1 else f"{base}-{n}"
        existing = by_ref.get(candidate)
        if existing is None:
            return candidate, False
        if _same(existing, account, day, amount):
            return candidate, True
    raise InputErrors([Problem(None, f"too many payments on {day} for {account}", "give this one a --ref")])


def run_pay(root: Path, account: str, amount: Decimal, day: dt.date, ref: str | None, method: str,
            invoices: Sequence[str], note: str = "", rate: Decimal | None = None) -> PaymentResult:
    with checked_change(root) as ahead:  # the check's child parses the ledger meanwhile
        config, books = open_books(root, records_will_do=in_books_currency(account))
        clients = {c.account: c for c in config.clients}
        if account not in clients:
            raise InputErrors([Problem(None, f"no client has account {account}", did_you_mean(account, clients))])
        why = check_amount(amount)
        if why:
            raise InputErrors([Problem(None, f"amount {amount}: {why}",
                                       "to undo a payment use: otb pay --reverse REF")])
        currency = config.currency_of(clients[account])
        path = payments_file(root, day)
        ref, already = payment_ref(books, account, day, amount, ref)
        if already:
            done = next(p for p in books.payments if p.ref == ref)
            return PaymentResult(ref, done.allocations, amount - sum((a for _, a in done.allocations), ZERO), path,
                                 currency, already=True)
        allocations, unapplied = allocate(books, account, amount, invoices, day)
        bank = config.bank_for(currency)
        base = config.settings.currency
        entry = PaymentEntry(ref, account, clients[account].name, day, amount, tuple(allocations), bank, currency,
                             method, note)
        block = render_payment(entry) if currency == base else foreign_payment(root, config, books, entry, rate)
        blocks = {path: [block]}
        for other, extra in applications(root, base, books, parsed([block])).items():
            blocks.setdefault(other, []).extend(extra)
        opens: dict[str, dict] = {bank: {}}
        if currency != base:
            opens[FX_ACCOUNT] = {}
            if unapplied > 0:
                opens[deposits(account)] = {"account_number": account}
        texts = {file: appended(file, new, payments_header(int(file.stem))) for file, new in blocks.items()}
        commit_ledger(root, ledger_file_edits(root, texts, opens),
                      f"otb pay {account} {amount} --date {day} --ref {ref}", ahead=ahead)
        return PaymentResult(ref, allocations, unapplied, path, currency)


def run_reverse(root: Path, ref: str, day: dt.date, note: str = "") -> PaymentResult:
    with checked_change(root) as ahead:  # the check's child parses the ledger meanwhile
        config, books = open_books(root)
        entry = books.transaction("payment", ref)
        if entry is None:
            raise InputErrors([Problem(None, f"no payment {ref} in the ledger", did_you_mean(ref, _used_refs(books)))])
        if entry.meta.get("reverses"):
            raise InputErrors([Problem(None, f"{ref} is itself a reversal", "record the payment again instead")])
        allocations = tuple((str(p.meta["invoice"]), postings.number(p)) for p in entry.postings
                            if p.meta and "invoice" in p.meta)
        path = payments_file(root, day)
        done = next((p for p in books.payments if p.reverses == ref), None)
        if done is not None:
            if done.date == day:  # the same reversal again (a retry): nothing to do
                return PaymentResult(done.ref, allocations, ZERO, path, already=True)
            raise InputErrors([Problem(None, f"payment {ref} is already reversed (by {done.ref} on {done.date})")])
        if day < entry.date:
            raise InputErrors([Problem(None, f"a reversal cannot be dated {day}, before the payment ({entry.date})")])
        held = lots_held(books.entries, str(entry.meta.get("account", "")))
        label = f"CR-{ref}"
        for p in entry.postings:
            if p.account.startswith(DEPOSITS_ROOT + ":") and held.get(label, (0, 0, 0))[2] != -postings.number(p):
                raise InputErrors([Problem(
                    None, f"the credit on account from payment {ref} has already been applied to a later invoice",
                    "record the bounced amount as a new invoice line, or reverse by hand with your accountant")])
        new_ref = f"{ref}-R"
        block = reversal_of(entry, new_ref, day, note)
        blocks = {path: [block]}
        for other, extra in applications(root, config.settings.currency, books, parsed([block])).items():
            blocks.setdefault(other, []).extend(extra)
        texts = {file: appended(file, new, payments_header(int(file.stem))) for file, new in blocks.items()}
        commit_ledger(root, ledger_file_edits(root, texts), f"otb pay --reverse {ref} --date {day}", ahead=ahead)
        return PaymentResult(new_ref, allocations, ZERO, path)
