"""What the Fava pages show, computed from the ledger's records (books/extract.py) and the rules of
core/receivables.py, as plain data for the templates: Fava's own components (query tables, charts) take it as JSON.

Statuses and balances are always derived from *all* entries (a payment in October settles a September invoice
even when Fava's time filter shows October only); Fava's filters (time, account, tags, advanced) choose which
invoices, clients and months are shown, and the end of the time filter is the default "as of" date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from beancount.core import data

from ..books import postings
from ..books.extract import Books, extract_records
from ..core.money import ZERO, cents
from ..core.month import Month
from ..core.receivables import AGING_BUCKETS, Book, aging, bucket
from ..render.moneyfmt import money

CHANGE_FLAG = Decimal(20)  # percent, as `otb bill` flags a month-over-month change


def records(entries) -> Books:
    books = Books(entries=list(entries))
    extract_records(books, entries)
    return books


def shown_invoices(filtered_entries) -> set[str]:
    """The invoices Fava's filters let through."""
    return {str(e.meta["invoice"]) for e in filtered_entries
            if isinstance(e, data.Transaction) and "invoice" in (e.meta or {})}


def amount(value: Decimal, currency: str) -> dict:
    """An amount as Fava's chart components read it (a JSON number). Charts only: every figure a page shows as
    text is formatted from the Decimal, and nothing drawn here is read back as money."""
    return {"number": float(value), "currency": currency}


def script_json(value) -> str:
    """JSON to put inside <script type="application/json">: `</` escaped so no client name can close the tag."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def query_table(columns: list[tuple[str, str]], rows: list[list]) -> str:
    """JSON for Fava's `query-table` component: columns are (name, dtype: str, int, date, Decimal, Amount)."""
    return script_json({"types": [{"name": n, "dtype": t} for n, t in columns], "rows": rows})


def invoices_table(book: Book, shown: set[str]) -> str:
    rows = []
    for state in sorted(book.invoices.values(), key=lambda s: (s.doc.date, s.doc.number), reverse=True):
        if state.doc.number not in shown:
            continue
        cur = state.doc.currency
        rows.append([state.doc.number, state.doc.client, state.doc.date, state.doc.due, state.status,
                     amount(state.doc.total, cur), amount(state.settled, cur), amount(state.credited, cur),
                     amount(state.balance, cur), state.days_overdue or None])
    return query_table([("Invoice", "str"), ("Client", "str"), ("Date", "date"), ("Due", "date"), ("Status", "str"),
                        ("Total", "Amount"), ("Paid", "Amount"), ("Credited", "Amount"), ("Balance", "Amount"),
                        ("Days late", "int")], rows)


def aging_rows(book: Book, books: Books, shown: set[str], base: str) -> tuple[list[dict], list[dict]]:
    """Rows per client of the shown invoices (and their clients' credit), and a Total row per currency."""
    accounts = {s.doc.account for s in book.invoices.values() if s.doc.number in shown}
    view = Book(book.as_of, {n: s for n, s in book.invoices.items() if n in shown},
                {a: c for a, c in book.credit.items() if a in accounts})
    rows: list = []
    totals: dict[str, dict] = {}  # by currency: bucket sums, credit, balance
    for row in aging(view, books.names):
        cur = row.currency or base
        rows.append({"account": row.account, "client": row.client,
                     "buckets": [money(row.buckets[b], cur) for b in AGING_BUCKETS],
                     "credit": money(-row.credit, cur) if row.credit else "", "balance": money(row.total, cur)})
        total = totals.setdefault(cur, {"buckets": defaultdict(Decimal), "credit": ZERO, "balance": ZERO})
        for b in AGING_BUCKETS:
            total["buckets"][b] += row.buckets[b]
        total["credit"] += row.credit
        total["balance"] += row.total
    total_rows = [{"label": f"Total {cur}" if len(totals) > 1 else "Total",
                   "buckets": [money(t["buckets"][b], cur) for b in AGING_BUCKETS],
                   "credit": money(-t["credit"], cur), "balance": money(t["balance"], cur)}
                  for cur, t in sorted(totals.items())]
    return rows, total_rows


# --- the billing dashboard -----------------------------------------------------------------------------------


def _month_end(month: Month) -> dt.date:
    return month.last_day


def _months(first: Month, last: Month, most: int = 12) -> list[Month]:
    months: list[Month] = []
    m = last
    while m >= first and len(months) < most:
        months.append(m)
        m = m.previous()
    return list(reversed(months))


def revenue_by_month(entries, base: str) -> dict[Month, dict[str, Decimal]]:
    """Income of invoices, adjustments and credit notes (negative) by month of the entry and category."""
    out: dict[Month, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        meta = entry.meta or {}
        if "invoice" not in meta and "credit_note" not in meta:
            continue
        for p in entry.postings:
            if p.account.startswith("Income:") and p.account != "Income:FX" and postings.currency(p) == base:
                category = p.account.split(":")[1]
                out[Month.of(entry.date)][category] -= postings.number(p)
    return out


def revenue_chart(revenue: dict[Month, dict[str, Decimal]], base: str) -> list[dict]:
    data_ = []
    for month in sorted(revenue):
        categories = revenue[month]
        data_.append({"date": str(month.first_day), "budgets": {},
                      "balance": {base: float(sum(categories.values(), ZERO))},
                      "account_balances": {c: {base: float(v)} for c, v in sorted(categories.items())}})
    return [{"type": "bar", "label": f"Revenue by month and category ({base})", "data": data_}]


def _in_base(value: Decimal, doc, base: str) -> Decimal:
    return cents(value * doc.fx_rate) if doc.currency != base and doc.fx_rate else value


def aging_over_time(books: Books, months: list[Month], shown_accounts: set[str], base: str, as_of: dt.date):
    """(chart JSON data, {month: receivables in base}): what was owed at each month end (or on `as_of`, for the
    month it falls in), by days past due; another currency at its invoices' rates (book value)."""
    points, owed = [], {}
    for month in months:
        book = books.book(min(_month_end(month), as_of))
        buckets = {b: ZERO for b in AGING_BUCKETS}
        for state in book.invoices.values():
            if state.doc.draft or state.balance <= 0 or state.doc.account not in shown_accounts:
                continue
            buckets[bucket((book.as_of - state.doc.due).days)] += _in_base(state.balance, state.doc, base)
        owed[month] = sum(buckets.values(), ZERO)
        points.append({"date": str(month.first_day), "budgets": {}, "balance": {base: float(owed[month])},
                       "account_balances": {b: {base: float(v)} for b, v in buckets.items()}})
    return [{"type": "bar", "label": f"Receivables at each month end, by days past due ({base})", "data": points}], owed


RECURRING = ("Managed", "Backup")  # the categories billed every month by the plan: monthly recurring revenue


def dso_table(months: list[Month], owed: dict[Month, Decimal], revenue: dict[Month, dict[str, Decimal]],
              base: str) -> str:
    """Per month: recurring revenue (managed services and backup), receivables at its end, and days sales
    outstanding: receivables / revenue of the last three months x their days."""
    rows = []
    for month in months:
        mrr = sum((revenue.get(month, {}).get(c, ZERO) for c in RECURRING), ZERO)
        window = [month, month.previous(), month.previous().previous()]
        sales = sum((sum(revenue.get(m, {}).values(), ZERO) for m in window), ZERO)
        days = sum(calendar.monthrange(m.year, m.month)[1] for m in window)
        dso = int((owed[month] / sales * days).quantize(Decimal("1"))) if sales > 0 else None
        rows.append([str(month), amount(mrr, base), amount(owed[month], base), amount(sales, base), dso])
    return query_table([("Month", "str"), ("Recurring revenue", "Amount"), ("Receivables", "Amount"),
                        ("Revenue, 3 months", "Amount"), ("DSO (days)", "int")], rows)


def top_clients(books: Books, entries, base: str, top: int) -> str:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction) and ("invoice" in entry.meta or "credit_note" in entry.meta):
            account = str(entry.meta.get("account", ""))
            for p in entry.postings:
                if p.account.startswith("Income:") and p.account != "Income:FX" and postings.currency(p) == base:
                    totals[account] -= postings.number(p)
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return query_table([("Client", "str"), ("Account", "str"), ("Revenue", "Amount")],
                       [[books.names.get(a, a), a, amount(v, base)] for a, v in ranked])


def big_changes(books: Books, shown: set[str], base: str) -> tuple[str, str, str]:
    """(latest month, previous month, table of clients whose invoice changed by more than 20%)."""
    by_month: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for doc in books.docs:
        if doc.number in shown and doc.period:
            by_month[doc.period][doc.account] += _in_base(doc.total, doc, base)
    periods = sorted(by_month)
    if len(periods) < 2:
        return (periods[-1] if periods else ""), "", query_table([("Client", "str")], [])
    last, before = periods[-1], periods[-2]
    rows = []
    for account in sorted(set(by_month[last]) | set(by_month[before])):
        new, old = by_month[last].get(account, ZERO), by_month[before].get(account, ZERO)
        change = None if not old else (new - old) / old * 100
        if change is None or not new or abs(change) > CHANGE_FLAG:
            label = "new" if not old else "gone" if not new else f"{change:+.1f}%"
            rows.append([books.names.get(account, account), amount(old, base), amount(new, base), label])
    return last, before, query_table([("Client", "str"), (before, "Amount"), (last, "Amount"), ("Change", "str")],
                                     rows)


def unbilled(root: Path, books: Books) -> tuple[str, list[str]]:
    """What the last bill left unbilled (export rows of accounts without a client file, of clients outside their
    contract), from build/MONTH/bill-report.json, which `otb bill` writes."""
    periods = sorted({d.period for d in books.docs if d.period})
    if not periods:
        return "", []
    path = root / "build" / periods[-1] / "bill-report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return periods[-1], []
    return periods[-1], [w for w in report.get("unbilled", [])]


def prepaid_pools(books: Books, entries, clients) -> str:
    """Per client with a yearly pool: its current pool year, hours, used (as the invoices recorded) and left."""
    used: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    latest: dict[str, int] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction) and "invoice" in entry.meta and "pool_year" in entry.meta:
            account, year = str(entry.meta.get("account", "")), int(entry.meta["pool_year"])
            used[(account, year)] += Decimal(str(entry.meta.get("prepaid_yearly_used", 0)))
            latest[account] = max(latest.get(account, year), year)
    rows = []
    for client in clients:
        if client.prepaid.yearly <= 0:
            continue
        held = latest.get(client.account)
        spent = used.get((client.account, held), ZERO) if held is not None else ZERO
        rows.append([client.name, client.account, held, float(client.prepaid.yearly), float(spent),
                     float(client.prepaid.yearly - spent)])
    return query_table([("Client", "str"), ("Account", "str"), ("Pool year", "int"), ("Hours a year", "Decimal"),
                        ("Used", "Decimal"), ("Left", "Decimal")], rows)
