"""`otb pay` and `otb pay --reverse`: record money received (or bounced) against a client's invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, Sequence

from ..books.accounts import DEPOSITS_ROOT, FX_ACCOUNT, deposits
from ..books.documents import render_foreign_payment, render_payment, reversal_of
from ..books.extract import Books
from ..books.prices import read_prices
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.money import ZERO
from ..core.receivables import derive
from .ledger_edit import (
    appended,
    ledger_file_edits,
    open_books,
    payments_header,
    write_verified,
)

METHODS = ("cheque", "eft", "card", "cash", "crypto")


class PaymentResult(NamedTuple):
    ref: str
    allocations: tuple[tuple[str, Decimal], ...]
    unapplied: Decimal
    path: Path
    currency: str = ""


def payments_file(root: Path, day: dt.date) -> Path:
    return root / "ledger" / "payments" / f"{day.year:04d}.beancount"


def _used_refs(books: Books) -> set[str]:
    return {p.ref for p in books.payments}


def credit_lots(entries, account: str) -> dict[str, tuple[Decimal, object, Decimal]]:
    """A client's foreign credit on account still held: label -> (rate, date, units left, positive)."""
    held: dict[str, list] = {}
    name = deposits(account)
    for entry in entries:
        for p in getattr(entry, "postings", ()):
            if p.account == name and p.cost is not None:
                lot = held.setdefault(p.cost.label, [p.cost.number, p.cost.date, ZERO])
                lot[2] -= p.units.number
    return {label: tuple(lot) for label, lot in held.items() if lot[2]}


def application_entries(root: Path, books, invoices) -> dict[Path, list[str]]:
    """For invoices being issued to clients who pay in another currency: the entries that use their credit on
    account, as the derivation applies it (oldest credit first), by payments file."""
    from ..books.documents import render_credit_application

    issuing = {inv.number for inv in invoices}
    docs = [d._replace(draft=False) if d.number in issuing else d for d in books.docs]
    book = derive(docs, books.payments, books.credits, dt.date.max)
    by_file: dict[Path, list[str]] = {}
    lots_by_account: dict[str, list] = {}
    for invoice in sorted(invoices, key=lambda i: (i.date, i.number)):
        state = book.invoices.get(invoice.number)
        if not invoice.foreign or state is None or not state.credit_applied:
            continue
        lots = lots_by_account.setdefault(invoice.account, sorted(
            ([label, rate, day, left] for label, (rate, day, left) in credit_lots(books.entries, invoice.account).items()),
            key=lambda lot: (lot[2], lot[0])))
        need, taken = state.credit_applied, []
        for lot in lots:
            if need <= 0:
                break
            part = min(need, lot[3])
            if part > 0:
                taken.append((lot[0], lot[1], lot[2], part))
                lot[3] -= part
                need -= part
        block = render_credit_application(account=invoice.account, client=invoice.client, day=invoice.date,
                                          invoice=invoice.number, invoice_lot=(invoice.fx_rate, invoice.date),
                                          amount=state.credit_applied - need, credit_lots=taken,
                                          currency=invoice.currency, base=invoice.base_currency)
        by_file.setdefault(payments_file(root, invoice.date), []).append(block)
    return by_file


def allocate(books: Books, account: str, amount: Decimal, invoices: Sequence[str], as_of: dt.date):
    """(allocations, unapplied): the named invoices in order, or the oldest open ones, up to their balances.

    Only invoices issued on or before the payment date can be settled by it; the rest is credit on account.
    """
    states = derive(books.docs, books.payments, books.credits, as_of).invoices
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
    left = amount
    allocations = []
    for state in chosen:
        part = min(left, max(ZERO, state.balance))
        if part > 0:
            allocations.append((state.doc.number, part))
            left -= part
    return tuple(allocations), left


def foreign_payment(root, config, books, client, ref, day, amount, allocations, unapplied, bank, currency, method,
                     note, rate):
    """A payment in the client's own currency, at the day's rate (from ledger/prices.beancount or --rate)."""
    if rate is None:
        problems: list[Problem] = []
        found, why = read_prices(root / "ledger", config.settings.currency, problems).rate_on(currency, day)
        if found is None:
            raise InputErrors(problems + [Problem(None, why.replace("otb fx set", "use --rate, or otb fx set"))])
        rate = found[1]
    lots = {d.number: (d.fx_rate, d.date) for d in books.docs if d.account == client.account and d.fx_rate}
    return render_foreign_payment(ref=ref, account=client.account, client=client.name, day=day, amount=amount,
                                  allocations=allocations, lots=lots, bank=bank, currency=currency,
                                  base=config.settings.currency, rate=rate, method=method, note=note)


def run_pay(root: Path, account: str, amount: Decimal, day: dt.date, ref: str | None, method: str,
            invoices: Sequence[str], note: str = "", rate: Decimal | None = None) -> PaymentResult:
    config, books = open_books(root)
    clients = {c.account: c for c in config.clients}
    if account not in clients:
        raise InputErrors([Problem(None, f"no client has account {account}", did_you_mean(account, clients))])
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InputErrors([Problem(None, f"amount {amount} must be positive with at most two decimals",
                                   "to undo a payment use: otb pay --reverse REF")])
    used = _used_refs(books)
    if ref is None:
        base = f"PAY-{account}-{day:%Y%m%d}"
        ref = base if base not in used else next(f"{base}-{n}" for n in range(2, 10_000) if f"{base}-{n}" not in used)
    elif ref in used:
        raise InputErrors([Problem(None, f"payment {ref} is already recorded", "use another --ref, or none")])
    allocations, unapplied = allocate(books, account, amount, invoices, day)
    currency = config.currency_of(clients[account])
    bank = config.bank_for(currency)
    if currency == config.settings.currency:
        block = render_payment(ref=ref, account=account, client=clients[account].name, day=day, amount=amount,
                               allocations=allocations, bank=bank, currency=currency, method=method, note=note)
    else:
        block = foreign_payment(root, config, books, clients[account], ref, day, amount, allocations, unapplied,
                                 bank, currency, method, note, rate)
    path = payments_file(root, day)
    foreign = {bank: {}, FX_ACCOUNT: {}}
    if unapplied > 0:
        foreign[deposits(account)] = {"account_number": account}
    files = ledger_file_edits(root, {path: appended(path, [block], payments_header(day.year))},
                              foreign if currency != config.settings.currency else {bank: {}})
    write_verified(root, files)
    return PaymentResult(ref, allocations, unapplied, path, currency)


def run_reverse(root: Path, ref: str, day: dt.date, note: str = "") -> PaymentResult:
    config, books = open_books(root)
    entry = books.transaction("payment", ref)
    if entry is None:
        raise InputErrors([Problem(None, f"no payment {ref} in the ledger", did_you_mean(ref, _used_refs(books)))])
    if entry.meta.get("reverses"):
        raise InputErrors([Problem(None, f"{ref} is itself a reversal", "record the payment again instead")])
    if any(p.reverses == ref for p in books.payments):
        raise InputErrors([Problem(None, f"payment {ref} is already reversed")])
    if day < entry.date:
        raise InputErrors([Problem(None, f"a reversal cannot be dated {day}, before the payment ({entry.date})")])
    held = credit_lots(books.entries, str(entry.meta.get("account", "")))
    label = f"CR-{ref}"
    for p in entry.postings:
        if p.account.startswith(DEPOSITS_ROOT + ":") and held.get(label, (0, 0, 0))[2] != -p.units.number:
            raise InputErrors([Problem(None, f"the credit on account from payment {ref} has already been applied to "
                                       "a later invoice", "record the bounced amount as a new invoice line, or "
                                       "reverse by hand with your accountant")])
    new_ref = f"{ref}-R"
    block = reversal_of(entry, new_ref, day, note)
    path = payments_file(root, day)
    write_verified(root, ledger_file_edits(root, {path: appended(path, [block], payments_header(day.year))}))
    allocations = tuple((str(p.meta["invoice"]), p.units.number) for p in entry.postings
                        if p.meta and "invoice" in p.meta)
    return PaymentResult(new_ref, allocations, ZERO, path)
