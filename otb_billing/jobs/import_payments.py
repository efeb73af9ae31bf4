"""`otb import-payments FILE.csv`: match bank deposits to invoices or clients; write them only with --apply.

A row is matched by an invoice number in its text (that invoice is settled first), else by a client account
number or client name in its text. A row that matches nothing, or more than one client, is listed as unmatched
and never guessed. A row whose reference is already in the ledger is skipped, so importing a statement twice
records nothing twice. Rows without a reference column get one made from their date, amount and text.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from ..books.accounts import FX_ACCOUNT, deposits
from ..books.entries import PaymentEntry, render_payment
from ..core.errors import InputErrors
from ..core.model import Config
from ..core.receivables import Payment
from ..readers.bank import BankRow, read_bank_csv
from .applications import applications, parsed
from .ledger_edit import (
    appended,
    checked_change,
    commit_ledger,
    ledger_file_edits,
    open_books,
    payments_header,
)
from .payments import allocate, foreign_payment, payments_file


class Proposal(NamedTuple):
    row: BankRow
    account: str
    client: str
    allocations: tuple
    unapplied: Decimal
    matched_by: str


class ImportResult(NamedTuple):
    proposals: list[Proposal]
    unmatched: list[tuple[BankRow, str]]
    skipped: list[tuple[BankRow, str]]
    written: bool
    currency: str = ""


def _words(text: str) -> str:
    return " " + re.sub(r"[^0-9a-z]+", " ", text.casefold()) + " "


def run_import(root: Path, path: Path, apply: bool, currency: str | None = None) -> ImportResult:
    """`currency` is the statement's (default: bank.csv.currency in settings, else the books' currency); only
    clients invoiced in it are matched, and a foreign statement's payments are booked at the day's rate."""
    # applying: the check's child parses the ledger meanwhile (ledger_edit.checked_change)
    with checked_change(root) if apply else contextlib.nullcontext() as ahead:
        def statement_currency(config: Config) -> str:
            return (currency or config.settings.bank_csv.get("currency") or config.settings.currency).upper()

        config, books = open_books(root, records_will_do=lambda config: (
            statement_currency(config) == config.settings.currency.upper()))
        currency = statement_currency(config)
        base = config.settings.currency
        accounts_needed: dict[str, dict] = {config.bank_for(currency): {}}
        rows = read_bank_csv(path, dict(config.settings.bank_csv), str(path), config.settings.number_format)
        clients = {c.account: c for c in config.clients}
        issued = {d.number: d for d in books.docs if not d.draft}
        used = {p.ref for p in books.payments}
        recorded = list(books.payments)
        proposals, unmatched, skipped = [], [], []
        blocks_by_file: dict[Path, list[str]] = {}
        for row in rows:
            if row.amount <= 0:
                skipped.append((row, "not a deposit"))
                continue
            if row.ref in used:
                skipped.append((row, f"already recorded as payment {row.ref}"))
                continue
            words = _words(row.text)
            invoices = [n for n in issued if _words(n) in words or n.casefold() in row.text.casefold()]
            by_invoice = {issued[n].account for n in invoices}
            if len(by_invoice) == 1:
                account, matched_by = by_invoice.pop(), "invoice " + ", ".join(invoices)
            elif len(by_invoice) > 1:
                unmatched.append((row, "names invoices of more than one client"))
                continue
            else:
                found = {
                    a
                    for a, c in clients.items()
                    if _words(a) in words or _words(c.name).strip() and _words(c.name) in words
                }
                if len(found) != 1:
                    unmatched.append((row, "matches no client" if not found else f"matches {len(found)} clients"))
                    continue
                account, invoices, matched_by = found.pop(), [], "client name or account"
            client = clients[account]
            if config.currency_of(client) != currency:
                unmatched.append(
                    (row, f"{client.name} is invoiced in {config.currency_of(client)}, this statement is in {currency}")
                )
                continue
            allocations, unapplied = allocate(books, account, row.amount, invoices, row.date)
            note = f"bank import: {' '.join(row.text.split())}"[:120]
            entry = PaymentEntry(row.ref, account, client.name, row.date, row.amount, tuple(allocations),
                                 config.bank_for(currency), currency, "eft", note)
            if currency == base:
                block = render_payment(entry)
            else:
                try:
                    block = foreign_payment(root, config, books, entry, None)
                except InputErrors as exc:
                    unmatched.append((row, str(exc.problems[-1].message)))
                    continue
                accounts_needed[FX_ACCOUNT] = {}
                if unapplied > 0:
                    accounts_needed[deposits(account)] = {"account_number": account}
            proposals.append(Proposal(row, account, client.name, allocations, unapplied, matched_by))
            used.add(row.ref)
            books.payments.append(Payment(row.ref, account, "", row.date, row.amount, allocations, currency))
            blocks_by_file.setdefault(payments_file(root, row.date), []).append(block)
        if apply and proposals:
            books.payments = recorded
            new_blocks = [block for blocks in blocks_by_file.values() for block in blocks]
            for file, extra in applications(root, base, books, parsed(new_blocks)).items():
                blocks_by_file.setdefault(file, []).extend(extra)
            texts = {
                file: appended(file, blocks, payments_header(int(file.stem))) for file, blocks in blocks_by_file.items()
            }
            commit_ledger(root, ledger_file_edits(root, texts, accounts_needed), f"otb import-payments {path.name}",
                          ahead=ahead)
        return ImportResult(proposals, unmatched, skipped, apply and bool(proposals), currency)
