"""`otb import-payments FILE.csv`: match bank deposits to invoices or clients; write them only with --apply.

A row is matched by an invoice number in its text (that invoice is settled first), else by a client account
number or client name in its text. A row that matches nothing, or more than one client, is listed as unmatched
and never guessed. A row whose reference is already in the ledger is skipped, so importing a statement twice
records nothing twice. Rows without a reference column get one made from their date, amount and text.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from ..books.accounts import FX_ACCOUNT, deposits
from ..books.documents import render_payment
from ..core.errors import InputErrors, Problem, Source
from ..core.money import CENT, DEFAULT_FORMAT, NUMBER_EXAMPLES, number_problem, parse_number
from ..core.month import MAX_YEAR, MIN_YEAR
from ..readers.sources import read_text
from ..core.receivables import Payment
from .applications import applications, parsed
from .ledger_edit import (
    appended,
    commit_ledger,
    ledger_file_edits,
    open_books,
    payments_header,
)
from .payments import allocate, foreign_payment, payments_file


class BankRow(NamedTuple):
    line: int
    date: dt.date
    amount: Decimal
    text: str
    ref: str


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


def read_bank_csv(path: Path, mapping: dict, name: str, style: str = DEFAULT_FORMAT) -> list[BankRow]:
    """The statement's rows; InputErrors listing every row that cannot be read (file:line, why, how to fix)."""
    columns = {role: mapping.get(role, role).strip().lower() for role in ("date", "amount", "description", "reference")}
    date_format = mapping.get("date_format", "")
    style = mapping.get("number_format", style)
    problems: list[Problem] = []
    text = read_text(path, name, problems, "save the statement as UTF-8 CSV")
    if text is None:
        raise InputErrors(problems)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip().lower() for c in next(reader, [])]
    except csv.Error as exc:
        raise InputErrors([Problem(Source(name, 1), f"CSV error: {exc}", "check the quotes on this line")]) from None
    missing = [columns[r] for r in ("date", "amount", "description") if columns[r] not in header]
    if missing:
        raise InputErrors([Problem(Source(name, 1), f"missing column(s) {', '.join(missing)}",
                                   "map your bank's column names under bank.csv in settings.yaml")])
    pos = {role: header.index(col) if col in header else None for role, col in columns.items()}
    rows = []
    line = reader.line_num
    try:
        for record in reader:
            start, line = line + 1, reader.line_num
            if not "".join(record).strip():
                continue
            if line > start and any("\n" in cell for cell in record):
                problems.append(Problem(Source(name, start), f"a quote opened on this line is not closed: the cell "
                                        f"runs on to line {line}", "close the quote, or remove it"))
                continue
            cell = lambda role: record[pos[role]].strip() if pos[role] is not None and pos[role] < len(record) else ""  # noqa: E731
            day = _bank_date(cell("date"), date_format)
            if day is None:
                problems.append(Problem(Source(name, start), f"date '{cell('date')}' is not a date"
                                        + (f" in the format {date_format}" if date_format else ""),
                                        "set bank.csv.date_format in settings.yaml, e.g. %m/%d/%Y"))
                continue
            try:
                amount = parse_number(cell("amount"), style)
            except ValueError as exc:
                problems.append(Problem(Source(name, start), f"amount: {exc}",
                                        f"write it like {NUMBER_EXAMPLES[style]}, or set bank.csv.number_format in "
                                        "settings.yaml to your bank's format"))
                continue
            why = number_problem(amount) or ("" if amount == amount.quantize(CENT) else
                                             f"'{cell('amount')}' has more than two decimals; amounts are in cents")
            if why:
                problems.append(Problem(Source(name, start), f"amount: {why}", "check this row against the bank"))
                continue
            description = " ".join(cell("description").split())
            ref = " ".join(cell("reference").split()) or "BANK-" + hashlib.sha256(
                f"{day}|{amount}|{description}".encode()).hexdigest()[:10].upper()
            rows.append(BankRow(start, day, amount, description, ref))
    except csv.Error as exc:
        problems.append(Problem(Source(name, reader.line_num), f"CSV error: {exc}", "check the quotes on this line"))
    if problems:
        raise InputErrors(problems)
    return rows


def _bank_date(text: str, date_format: str) -> dt.date | None:
    try:
        day = dt.datetime.strptime(text, date_format).date() if date_format else dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


def _words(text: str) -> str:
    return " " + re.sub(r"[^0-9a-z]+", " ", text.casefold()) + " "


def run_import(root: Path, path: Path, apply: bool, currency: str | None = None) -> ImportResult:
    """`currency` is the statement's (default: bank.csv.currency in settings, else the books' currency); only
    clients invoiced in it are matched, and a foreign statement's payments are booked at the day's rate."""
    config, books = open_books(root)
    currency = (currency or config.settings.bank_csv.get("currency") or config.settings.currency).upper()
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
            found = {a for a, c in clients.items() if _words(a) in words or _words(c.name).strip() and _words(c.name) in words}
            if len(found) != 1:
                unmatched.append((row, "matches no client" if not found else f"matches {len(found)} clients"))
                continue
            account, invoices, matched_by = found.pop(), [], "client name or account"
        client = clients[account]
        if config.currency_of(client) != currency:
            unmatched.append((row, f"{client.name} is invoiced in {config.currency_of(client)}, this statement "
                                   f"is in {currency}"))
            continue
        allocations, unapplied = allocate(books, account, row.amount, invoices, row.date)
        note = f"bank import: {' '.join(row.text.split())}"[:120]
        if currency == base:
            block = render_payment(ref=row.ref, account=account, client=client.name, day=row.date,
                                   amount=row.amount, allocations=allocations, bank=config.bank_for(currency),
                                   currency=currency, method="eft", note=note)
        else:
            try:
                block = foreign_payment(root, config, books, client, row.ref, row.date, row.amount, allocations,
                                        unapplied, config.bank_for(currency), currency, "eft", note, None)
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
        texts = {file: appended(file, blocks, payments_header(int(file.stem)))
                 for file, blocks in blocks_by_file.items()}
        commit_ledger(root, ledger_file_edits(root, texts, accounts_needed), f"otb import-payments {path.name}")
    return ImportResult(proposals, unmatched, skipped, apply and bool(proposals), currency)
