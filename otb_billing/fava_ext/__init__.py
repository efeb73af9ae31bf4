"""A Fava extension: the "Invoices" page shows each invoice's status, what is paid and owed, and the aging of
receivables, derived from the same ledger and the same rules as `otb status` and `otb aging`.

Enabled in ledger/main.beancount with `custom "fava-extension" "otb_billing.fava_ext"`.
"""

from __future__ import annotations

import datetime as dt

from fava.ext import FavaExtensionBase

from ..books.extract import Books, extract_records
from ..core.receivables import AGING_BUCKETS, aging
from ..render.moneyfmt import money


class Invoices(FavaExtensionBase):
    report_title = "Invoices"

    def _books(self) -> Books:
        books = Books()
        extract_records(books, self.ledger.all_entries)
        return books

    def as_of(self, text: str | None) -> dt.date:
        try:
            return dt.date.fromisoformat(text) if text else dt.date.today()
        except ValueError:
            return dt.date.today()

    def invoices(self, as_of: dt.date) -> list[dict]:
        """One row per invoice, newest first, amounts formatted in the invoice's currency."""
        books = self._books()
        book = books.book(as_of)
        rows = []
        for state in sorted(book.invoices.values(), key=lambda s: (s.doc.date, s.doc.number), reverse=True):
            cur = state.doc.currency
            rows.append({
                "number": state.doc.number, "client": state.doc.client, "account": state.doc.account,
                "date": state.doc.date, "due": state.doc.due, "status": state.status,
                "total": money(state.doc.total, cur), "paid": money(state.settled, cur),
                "credited": money(state.credited, cur), "balance": money(state.balance, cur),
                "days_overdue": state.days_overdue,
            })
        return rows

    def aging(self, as_of: dt.date) -> tuple[tuple[str, ...], list[dict]]:
        books = self._books()
        book = books.book(as_of)
        rows = [{"account": r.account, "client": r.client,
                 "buckets": [money(r.buckets[b], r.currency or "CAD") for b in AGING_BUCKETS],
                 "credit": money(r.credit, r.currency or "CAD") if r.credit else "",
                 "balance": money(r.total, r.currency or "CAD")} for r in aging(book, books.names)]
        return AGING_BUCKETS, rows
