"""`otb export MONTH`: build/MONTH/ made again from the ledger, for every invoice of the month.

The QuickBooks Online import files (invoices, and the payments and credit notes dated in the month), the itemized
CSV of each invoice and the month's ZIP; for a finalized invoice its issued PDF (a copy of the one
in ledger/documents/) and the CSV of the data it was issued with; for a draft a DRAFT PDF and the CSV from the
inputs, which must still give the draft in the ledger. Files of invoices no longer in the month are removed; files
of finalized invoices never are.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..books import invoice_files
from ..core.errors import InputErrors, Problem
from ..core.month import Month
from ..outputs import remove_outputs, write_outputs
from ..render import quickbooks
from .bill import month_outputs, posting_changes, stale_outputs
from .invoice_pdfs import draft_pdfs
from .ledger_edit import billed_month, open_books
from .pipeline import compute, credit_on_account
from .quickbooks_books import credit_memos, payment_rows


def run_export(root: Path, month: Month, pdf: bool = True) -> list[Path]:
    config, books = open_books(root, for_change=False)
    ledger = root / "ledger"
    _, blocks = billed_month(root, month)
    drafts = {n for n, (flag, text) in blocks.items() if flag == "!" and not invoice_files.is_adjustment(text)}
    fresh, result = {}, None
    if drafts:
        _, result, _ = compute(root, month, sorted({d.account for d in books.docs if d.number in drafts}))
        result = replace(result, credit_available=credit_on_account(ledger, month))
        fresh = {inv.number: inv for inv in result.invoices if inv.number in drafts}
        stale = sorted(n for n in drafts if n not in fresh or posting_changes(blocks[n][1], fresh[n]))
        if stale:
            raise InputErrors([Problem(None, f"{n}: the inputs no longer give the draft in the ledger",
                                       f"bill the month again first: otb bill {month}") for n in stale])
    month_blocks = {n: text for n, (_, text) in blocks.items()}
    files, expected, _ = month_outputs(root, config, month, month_blocks, fresh)
    build = root / "build" / str(month)
    if pdf:
        if result is not None:
            files.update(draft_pdfs(root, config, list(fresh.values()), result.credit_applied))
        for doc in books.docs:
            issued = ledger / "documents" / f"{doc.date.year:04d}" / f"{doc.number}.pdf"
            if doc.number in blocks and not doc.draft and issued.exists():
                files[build / f"{doc.number}.pdf"] = issued.read_bytes()
    qb, base = config.settings.quickbooks, config.settings.currency
    files[build / f"quickbooks-payments-{month}.csv"] = quickbooks.payment_file(payment_rows(config, books, month), qb,
                                                                               base)
    files[build / f"quickbooks-credit-memos-{month}.csv"] = quickbooks.credit_memo_file(
        credit_memos(config, books, month), f"{month}", qb, base)
    write_outputs(root, files)
    remove_outputs(stale_outputs(build, expected | {path.name for path in files}))
    return sorted(files)
