"""`otb finalize MONTH`: the month's drafts become issued invoices (flag *, `finalized`, `digest`), each with its
final PDF and data rendered once into ledger/documents/ and a `document` directive linked to it.

Everything of one finalize (sealed invoices, PDFs, data, document directives, the entries that use a foreign
client's credit on account) is one change: written together or not at all. One invoice that cannot be issued
(its inputs changed since billing, or its entries would not pass bean-check) never holds back the others: they are
issued, it is reported with the reason, and the command exits 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

from ..books import invoice_files, writer
from ..books.entries import parse_block, seal
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.model import Invoice
from ..core.month import Month
from .applications import applications
from .bill import posting_changes
from .invoice_pdfs import DOCUMENTS_FILE, final_documents, invoice_from_entry
from .ledger_edit import (
    appended,
    billed_month,
    commit_ledger,
    ledger_file_edits,
    open_books,
    payments_header,
    trial_ledger,
)
from .pipeline import compute

DOCUMENTS_HEADER = ("; Issued invoices as PDF (ledger/documents/), written by `otb finalize`. Fava shows them beside "
                    "each invoice.\n")


class FinalizeResult(NamedTuple):
    done: list[str]
    failed: list[tuple[str, list[Problem]]]


def run_finalize(root: Path, month: Month, only: Collection[str], at: dt.datetime, progress=None) -> FinalizeResult:
    """Seal the month's drafts (of the `only` accounts, if given)."""
    config, books = open_books(root)
    ledger = root / "ledger"
    path, blocks = billed_month(root, month)
    accounts = {d.number: d.account for d in books.docs}
    known = {c.account for c in config.clients}
    problems = [Problem(None, f"--client {a}: no client file has this account", did_you_mean(a, known))
                for a in only if a not in known]
    if problems:
        raise InputErrors(problems)
    chosen = [n for n, (flag, _) in sorted(blocks.items()) if flag == "!" and (not only or accounts.get(n) in only)]
    if not chosen:
        return FinalizeResult([], [])
    invoices, failed = _documents_for(root, month, chosen, blocks, accounts)
    files, directives = final_documents(root, config, invoices, at, progress)
    parts = {inv.number: (inv, {p: d for p, d in files.items() if p.stem == inv.number}, directives[k])
             for k, inv in enumerate(invoices)}

    def change(numbers: list[str]) -> dict:
        new_blocks = {n: (seal(text, at, f"{n}.pdf") if n in numbers else text) for n, (_, text) in blocks.items()}
        documents_path = ledger / DOCUMENTS_FILE
        texts = {path: writer.render_month_file(month, new_blocks.items()),
                 documents_path: appended(documents_path, ["\n".join(parts[n][2] for n in numbers)],
                                          DOCUMENTS_HEADER)}
        for payments_path, blocks_ in applications(root, config.settings.currency, books, issuing=numbers).items():
            texts[payments_path] = appended(payments_path, blocks_, payments_header(int(payments_path.stem)))
        pdfs = {p: d for n in numbers for p, d in parts[n][1].items()}
        return {**pdfs, **ledger_file_edits(root, texts)}

    numbers = [inv.number for inv in invoices]
    accepted = numbers
    if len(numbers) > 1 and trial_ledger(root, change(numbers)):
        accepted = []  # something would break the ledger: take the invoices one by one, keep the good ones
        for number in numbers:
            trouble = trial_ledger(root, change(accepted + [number]))
            if trouble:
                failed.append((number, trouble))
            else:
                accepted.append(number)
    if accepted:
        try:
            commit_ledger(root, change(accepted), f"otb finalize {month}")
        except InputErrors as exc:
            failed += [(n, exc.problems) for n in accepted]
            accepted = []
    return FinalizeResult(accepted, sorted(failed))


def _documents_for(root: Path, month: Month, chosen, blocks, accounts) -> tuple[list[Invoice], list]:
    """The invoices to issue, each checked against its draft in the ledger (the PDF shows the ledger's numbers),
    and those that cannot be issued with why."""
    adjustments = {n for n in chosen if invoice_files.is_adjustment(blocks[n][1])}
    billed_accounts = {accounts[n] for n in chosen if n not in adjustments}
    fresh = {}
    if billed_accounts:
        _, result, _ = compute(root, month, sorted(billed_accounts))
        fresh = {inv.number: inv for inv in result.invoices}
    invoices, failed = [], []
    for number in chosen:
        text = blocks[number][1]
        if number in adjustments:
            invoices.append(invoice_from_entry(parse_block(text), month))
            continue
        invoice = fresh.get(number)
        if invoice is None or posting_changes(text, invoice):
            failed.append((number, [Problem(None, f"{number}: the inputs no longer give the draft in the ledger",
                                            f"review and bill the month again first: otb bill {month}")]))
            continue
        invoices.append(invoice)
    return invoices, failed
