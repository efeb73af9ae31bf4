"""Fava as the billing cockpit: two pages, enabled in ledger/main.beancount with
`custom "fava-extension" "otb_billing.fava_ext"`.

- Invoices: each invoice's status, paid, credited and balance, and the aging of receivables with a total, on any
  date, from the same rules as `otb status` and `otb aging`.
- Billing: revenue by month and category, the top clients, receivables at each month end by days past due, days
  sales outstanding, month-over-month changes over 20%, what the last bill left unbilled, prepaid-hours pools.

Both honour Fava's filters (time, account, tags, advanced filter): they choose the invoices and clients shown, and
the end of the time filter is the date asked about; the numbers are always derived from the whole ledger.
Money is shown in each invoice's currency; totals across invoices in the operating currency.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fava.context import g
from fava.ext import FavaExtensionBase

from ..core.month import Month
from ..core.receivables import AGING_BUCKETS
from . import views


class _Billing(FavaExtensionBase):
    """What both pages need: the records, the filtered invoices, the date asked about, the currency."""

    @property
    def base(self) -> str:
        currencies = self.ledger.options.get("operating_currency") or []
        return currencies[0] if currencies else "CAD"

    @property
    def root(self) -> Path:
        return Path(self.ledger.beancount_file_path).resolve().parent.parent

    def as_of(self, text: str | None) -> tuple[dt.date, str]:
        """(the date asked about, an error message for a date that cannot be read)."""
        default = dt.date.today()
        date_range = getattr(g.filtered, "date_range", None)
        if date_range is not None:
            default = date_range.end_inclusive
        if not text:
            return default, ""
        try:
            return dt.date.fromisoformat(text), ""
        except ValueError:
            return default, f"'{text}' is not a date (write it as YYYY-MM-DD): showing {default} instead."

    def context(self, text: str | None) -> dict:
        as_of, error = self.as_of(text)
        books = views.records(self.ledger.all_entries)
        shown = views.shown_invoices(g.filtered.entries)
        return {"as_of": as_of, "error": error, "books": books, "shown": shown, "book": books.book(as_of)}


class Invoices(_Billing):
    report_title = "Invoices"

    def page(self, text: str | None) -> dict:
        c = self.context(text)
        rows, totals = views.aging_rows(c["book"], c["books"], c["shown"], self.base)
        return {"as_of": c["as_of"], "error": c["error"], "buckets": AGING_BUCKETS, "aging": rows, "totals": totals,
                "invoices": views.invoices_table(c["book"], c["shown"]), "count": len(c["shown"])}


class Billing(_Billing):
    report_title = "Billing"

    def page(self, text: str | None, top_text: str | None) -> dict:
        c = self.context(text)
        books, shown, base = c["books"], c["shown"], self.base
        filtered = [e for e in g.filtered.entries]
        top = int(top_text) if top_text and top_text.isdigit() and 0 < int(top_text) <= 100 else 10
        revenue = views.revenue_by_month(filtered, base)
        accounts = {d.account for d in books.docs if d.number in shown}
        periods = sorted({Month.parse(d.period) for d in books.docs if d.number in shown and d.period})
        months = views._months(periods[0], min(periods[-1].next(), Month.of(c["as_of"]))) if periods else []
        aging_chart, owed = views.aging_over_time(books, months, accounts, base, c["as_of"])
        last, before, changes = views.big_changes(books, shown, base)
        unbilled_month, unbilled = views.unbilled(self.root, books)
        clients, clients_error = self._clients()
        return {"as_of": c["as_of"], "error": c["error"] or clients_error, "base": base, "top": top,
                "revenue_chart": views.script_json(views.revenue_chart(revenue, base)),
                "aging_chart": views.script_json(aging_chart),
                "dso": views.dso_table(months, owed, revenue, base), "top_clients": views.top_clients(
                    books, filtered, base, top),
                "last": last, "before": before, "changes": changes, "unbilled_month": unbilled_month,
                "unbilled": unbilled, "pools": views.prepaid_pools(books, self.ledger.all_entries, clients)}

    def _clients(self):
        from ..core.errors import InputErrors
        from ..readers.config import read_config

        try:
            return read_config(self.root).clients, ""
        except InputErrors as exc:
            return (
                (),
                f"The client files have problems ({len(exc.problems)}): prepaid pools are not shown. Run otb check.",
            )
