"""`otb finalize MONTH`: the month's drafts become issued invoices (flag *, `finalized`, `digest`), each with its
final PDF and data rendered once into ledger/documents/ and a `document` directive linked to it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Collection

from ..books import reader, writer
from ..books.documents import parse_block, seal
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.month import Month
from .bill import compute, posting_changes
from .documents import DOCUMENTS_FILE, final_documents, invoice_from_entry
from .ledger_edit import (
    appended,
    ledger_file_edits,
    open_books,
    payments_header,
    write_verified,
)
from .payments import application_entries


def run_finalize(root: Path, month: Month, only: Collection[str], at: dt.datetime) -> list[str]:
    """Seal the month's drafts (of the `only` accounts, if given); returns the invoice numbers finalized."""
    config, books = open_books(root)
    ledger = root / "ledger"
    path = reader.month_file(ledger, month)
    if not path.exists():
        raise InputErrors([Problem(None, f"{month} has not been billed", f"run: otb bill {month}")])
    _, blocks = reader.split_blocks(path.read_text(encoding="utf-8"))
    accounts = {d.number: d.account for d in books.docs}
    known = {c.account for c in config.clients}
    problems = [Problem(None, f"--client {a}: no client file has this account", did_you_mean(a, known))
                for a in only if a not in known]
    if problems:
        raise InputErrors(problems)
    chosen = [n for n, (flag, _) in sorted(blocks.items()) if flag == "!" and (not only or accounts.get(n) in only)]
    if not chosen:
        return []
    invoices = _documents_for(root, month, chosen, blocks, accounts)
    files, directives = final_documents(root, config, invoices)
    new_blocks = {n: (seal(text, at) if n in chosen else text) for n, (_, text) in blocks.items()}
    documents_path = ledger / DOCUMENTS_FILE
    documents_text = appended(documents_path, ["\n".join(directives)],
                              "; Issued invoices as PDF (ledger/documents/), written by `otb finalize`. Fava shows "
                              "them beside each invoice.\n")
    texts = {path: writer.render_month_file(month, new_blocks.items()), documents_path: documents_text}
    for payments_path, blocks_ in application_entries(root, books, invoices).items():
        texts[payments_path] = appended(payments_path, blocks_, payments_header(int(payments_path.stem)))
    write_verified(root, {**files, **ledger_file_edits(root, texts)})
    return chosen


def _documents_for(root: Path, month: Month, chosen, blocks, accounts):
    """The invoices to issue, each checked against its draft in the ledger: the PDF shows the ledger's numbers."""
    adjustments = {n for n in chosen if reader.is_adjustment(blocks[n][1])}
    billed_accounts = {accounts[n] for n in chosen if n not in adjustments}
    fresh = {}
    if billed_accounts:
        _, result, _ = compute(root, month, sorted(billed_accounts))
        fresh = {inv.number: inv for inv in result.invoices}
    invoices, problems = [], []
    for number in chosen:
        text = blocks[number][1]
        if number in adjustments:
            invoices.append(invoice_from_entry(parse_block(text), month))
            continue
        invoice = fresh.get(number)
        if invoice is None or posting_changes(text, invoice):
            problems.append(Problem(None, f"{number}: the inputs no longer give the draft in the ledger",
                                    f"review and bill the month again first: otb bill {month}"))
            continue
        invoices.append(invoice)
    if problems:
        raise InputErrors(problems)
    return invoices
