"""`otb show INVOICE`, `otb pdf MONTH` and `otb statement --pdf`: documents on demand.

A finalized invoice is shown from its stored snapshot; a draft is billed again from the inputs (and must still
match the ledger), so what you see is what `otb finalize` would issue.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.month import Month
from ..core.receivables import aging
from ..render.pdf import statement_pdf
from ..render.templates import render
from ..render.views import Letterhead, statement_view
from .bill import posting_changes
from .invoice_pdfs import Paper, draft_pdfs, load_snapshot, view_of
from .ledger_edit import billed_month, open_books
from .pipeline import compute
from .reports import client_statement


def invoice_and_view(root: Path, number: str, as_of: dt.date):
    """(Invoice, InvoiceView) of an invoice in the ledger, with what is paid and credited on `as_of`."""
    config, books = open_books(root, for_change=False)
    doc = books.doc(number)
    if doc is None:
        raise InputErrors([Problem(None, f"no invoice {number} in the ledger",
                                   did_you_mean(number, [d.number for d in books.docs]))])
    state = books.book(max(as_of, doc.date)).invoices[number]
    amounts = dict(paid=state.paid - state.overpaid, credited=state.credited, credit_applied=state.credit_applied)
    if not doc.draft:
        stored = load_snapshot(root / "ledger", number, doc.date.year)
        if stored is None:
            raise InputErrors([Problem(None, f"{number} is finalized but ledger/documents has no data for it")])
        invoice, paper = stored
        return invoice, view_of(invoice, paper, False, **amounts)
    month = Month.parse(doc.period)
    _, result, blocks = compute(root, month, [doc.account])
    billed = next((i for i in result.invoices if i.number == number), None)
    if billed is None or posting_changes(blocks[number][1], billed):
        raise InputErrors([Problem(None, f"{number}: the inputs no longer give the draft in the ledger",
                                   f"bill the month again first: otb bill {month}")])
    return billed, view_of(billed, Paper.of(config, billed), True, **amounts)


def invoice_html(root: Path, number: str, as_of: dt.date) -> str:
    _, view = invoice_and_view(root, number, as_of)
    return render(root, "invoice.html.j2", view=view)


def month_pdfs(root: Path, month: Month, only, force: bool = False, progress=None
               ) -> tuple[dict[Path, bytes], list[str]]:
    """DRAFT PDFs of the month's drafts into build/MONTH/; finalized invoices are listed with their stored PDF."""
    config, books = open_books(root, for_change=False)
    _, blocks = billed_month(root, month)
    config_accounts = {c.account for c in config.clients}
    finals = [f"{d.number}: finalized, ledger/documents/{d.date.year}/{d.number}.pdf" for d in books.docs
              if d.period == str(month) and not d.draft and (not only or d.account in only)]
    _, result, _ = compute(root, month, [a for a in only if a in config_accounts] or ())
    drafts = [i for i in result.invoices if blocks.get(i.number, ("",))[0] == "!"]
    stale = [i.number for i in drafts if posting_changes(blocks[i.number][1], i)]
    if stale:
        raise InputErrors([Problem(None, f"{n}: the inputs no longer give the draft in the ledger",
                                   f"bill the month again first: otb bill {month}") for n in stale])
    return draft_pdfs(root, config, drafts, lambda inv: 0, progress, force), finals


def statement_document(root: Path, account: str, start: dt.date | None, end: dt.date) -> tuple[Path, bytes]:
    config, books = open_books(root, for_change=False)
    st = client_statement(books, account, start, end)
    client = next((c for c in config.clients if c.account == account), None)
    name = client.name if client else books.names.get(account, account)
    currency = next((d.currency for d in books.docs if d.account == account), config.settings.currency)
    book = books.book(end)
    row = next((r for r in aging(book, books.names) if r.account == account), None)
    view = statement_view(st, Letterhead.of(config.settings), name, client.address if client else (), currency, row,
                          config.settings.footer)
    path = root / "build" / "statements" / f"{account}-{end}.pdf"
    return path, statement_pdf(view, root)
