"""Plain-text tables and the JSON of the receivables reports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence, Set
from decimal import Decimal
from itertools import starmap
from json.encoder import encode_basestring_ascii

from ..core.money import fmt_money
from ..core.receivables import AGING_BUCKETS, AgingRow, InvoiceState, Statement
from .moneyfmt import money
from .qbcsv import neutralize


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Set[int] = frozenset(),
          total: Sequence[str] | None = None) -> str:
    """Columns padded to their widest cell, a rule under the header (and above a total row)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    return column_table(header, columns, right, total)


def column_table(header: Sequence[str], columns: Sequence[Sequence[str]], right: Set[int] = frozenset(),
                 total: Sequence[str] | None = None) -> str:
    """table() from the cells of each column: a report of 120,000 rows makes each column with one map() and
    measures it with one max(), instead of visiting every row in Python once per step."""
    extra = [header] + ([total] if total else [])
    widths = [max(max(map(len, column), default=0), *(len(row[i]) for row in extra))
              for i, column in enumerate(columns)]
    line = "  ".join(f"{{:{'>' if i in right else '<'}{w}}}" for i, w in enumerate(widths)).format
    rule = "  ".join("-" * w for w in widths)
    out = [line(*header).rstrip(), rule, *map(str.rstrip, starmap(line, zip(*columns, strict=True)))]
    if total:
        out += [rule, line(*total).rstrip()]
    return "\n".join(out) + "\n"


def status_table(rows: Sequence[InvoiceState]) -> str:
    docs = [s.doc for s in rows]
    currencies = [d.currency for d in docs]
    days = {due: str(due) for due in {d.due for d in docs}}
    totals = list(map(money, [d.total for d in docs], currencies))

    def often_the_total(amounts: list) -> list[str]:  # paid or balance: an equal amount's text is reused
        return [text if amount == doc.total else money(amount, currency)
                for amount, doc, text, currency in zip(amounts, docs, totals, currencies, strict=True)]

    columns: list[list[str]] = [
        [d.number for d in docs],
        [d.client[:28] for d in docs],
        [s.status for s in rows],
        totals,
        often_the_total([s.settled for s in rows]),
        list(map(money, [s.credited for s in rows], currencies)),
        often_the_total([s.balance for s in rows]),
        [days[d.due] for d in docs],
        [str(s.days_overdue) if s.days_overdue else "" for s in rows],
    ]
    return column_table(("Invoice", "Client", "Status", "Total", "Paid", "Credited", "Balance", "Due", "Days late"),
                        columns, right={3, 4, 5, 6, 8})


def status_json(rows: Sequence[InvoiceState], as_of) -> str:
    docs = [s.doc for s in rows]
    columns: dict[str, list] = {
        "invoice": [d.number for d in docs],
        "account": [d.account for d in docs],
        "client": [d.client for d in docs],
        "period": [d.period for d in docs],
        "date": [str(d.date) for d in docs],
        "due": [str(d.due) for d in docs],
        "currency": [d.currency for d in docs],
        "status": [s.status for s in rows],
        "total": list(map(fmt_money, [d.total for d in docs])),
        "paid": list(map(fmt_money, [s.settled for s in rows])),
        "credit_applied": list(map(fmt_money, [s.credit_applied for s in rows])),
        "credited": list(map(fmt_money, [s.credited for s in rows])),
        "overpaid": list(map(fmt_money, [s.overpaid for s in rows])),
        "balance": list(map(fmt_money, [s.balance for s in rows])),
        "days_overdue": [s.days_overdue for s in rows],
    }
    return f'{{\n  "as_of": {json.dumps(str(as_of))},\n  "invoices": {records_json(columns, len(rows), 2)}\n}}\n'


def records_json(columns: dict[str, list], count: int, indent: int = 0) -> str:
    """What json.dumps(records, indent=2) writes, `indent` spaces deeper, for records given as columns of text
    or of whole numbers (each column one or the other). Built from json's C string encoder a column at a time:
    json.dumps with an indent runs its pure-Python encoder, over a second for 120,000 records."""
    if not count or not columns:
        return json.dumps([{} for _ in range(count)], indent=2).replace("\n", "\n" + " " * indent)
    inner = " " * (indent + 4)
    names = [json.dumps(key).replace("{", "{{").replace("}", "}}") for key in columns]
    row = (" " * (indent + 2) + "{{\n" + ",\n".join(f"{inner}{name}: {{}}" for name in names)
           + "\n" + " " * (indent + 2) + "}}")
    encoded = [list(map(_encoder(column), column)) for column in columns.values()]
    return "[\n" + ",\n".join(starmap(row.format, zip(*encoded, strict=True))) + "\n" + " " * indent + "]"


def _encoder(column: list):
    """The C encoder for a column of text, int.__repr__ for one of whole numbers, json.dumps for anything else."""
    if all(isinstance(value, str) for value in column):
        return encode_basestring_ascii
    if all(type(value) is int for value in column):
        return int.__repr__
    return json.dumps


def aging_table(rows: Sequence[AgingRow]) -> str:
    body = [
        (
            r.account,
            r.client[:28],
            *(money(r.buckets[b], r.currency) for b in AGING_BUCKETS),
            money(-r.credit, r.currency) if r.credit else "",
            money(r.total, r.currency),
        )
        for r in rows
    ]
    currencies = sorted({r.currency for r in rows}) or [""]
    totals = []
    for currency in currencies:
        mine = [r for r in rows if r.currency == currency]
        label = "Total" if len(currencies) == 1 else f"Total {currency}"
        totals.append(
            [
                "",
                label,
                *(money(sum((r.buckets[b] for r in mine), Decimal(0)), currency) for b in AGING_BUCKETS),
                money(-sum((r.credit for r in mine), Decimal(0)), currency),
                money(sum((r.total for r in mine), Decimal(0)), currency),
            ]
        )
    text = table(
        ("Account", "Client", "Current", "1-30", "31-60", "61-90", "90+", "Credit", "Balance"),
        body,
        right=set(range(2, 9)),
        total=totals[0],
    )
    if len(totals) > 1:  # one total row per currency: amounts in different currencies are never added up
        widths = [len(cell) for cell in text.splitlines()[1].split("  ")]
        for extra in totals[1:]:
            text += "  ".join(
                c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(extra, widths, strict=False))
            )
            text = text.rstrip() + "\n"
    return text


def aging_json(rows: Sequence[AgingRow], as_of) -> str:
    return (
        json.dumps(
            {
                "as_of": str(as_of),
                "clients": [
                    {
                        "account": r.account,
                        "client": r.client,
                        "currency": r.currency,
                        "buckets": {b: fmt_money(r.buckets[b]) for b in AGING_BUCKETS},
                        "credit": fmt_money(r.credit),
                        "balance": fmt_money(r.total),
                    }
                    for r in rows
                ],
            },
            indent=2,
        )
        + "\n"
    )


def statement_lines(st: Statement, name: str, currency: str) -> list[tuple[str, str, str, str, str, Decimal]]:
    """(date, reference, description, charge, credit, running balance) rows, opening and closing included."""
    rows = [("", "", "Opening balance", "", "", st.opening)]
    for line in st.lines:
        charge = money(line.amount, currency) if line.amount > 0 else ""
        credit = money(-line.amount, currency) if line.amount < 0 else ""
        rows.append((str(line.date), line.reference, line.description, charge, credit, line.balance))
    rows.append(("", "", "Closing balance", "", "", st.closing))
    return rows


def statement_json(st: Statement, name: str, currency: str) -> str:
    return (
        json.dumps(
            {
                "account": st.account,
                "client": name,
                "currency": currency,
                "from": str(st.start) if st.start else None,
                "to": str(st.end),
                "opening": fmt_money(st.opening),
                "closing": fmt_money(st.closing),
                "lines": [
                    {
                        "date": str(ln.date),
                        "kind": ln.kind,
                        "reference": ln.reference,
                        "description": ln.description,
                        "amount": fmt_money(ln.amount),
                        "balance": fmt_money(ln.balance),
                    }
                    for ln in st.lines
                ],
            },
            indent=2,
        )
        + "\n"
    )


def revenue_table(rows) -> str:
    total = sum((r[4] for r in rows), Decimal(0))
    return table(
        ("Month", "Account", "Client", "Category", "Revenue"),
        [(m, a, c[:28], cat, money(v)) for m, a, c, cat, v in rows],
        right={4},
        total=("", "", "", "Total", money(total)),
    )


def revenue_json(rows) -> str:
    return (
        json.dumps(
            [
                {"month": m, "account": a, "client": c, "category": cat, "amount": fmt_money(v)}
                for m, a, c, cat, v in rows
            ],
            indent=2,
        )
        + "\n"
    )


def revenue_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["month", "account", "client", "category", "amount"])
    writer.writerows([m, neutralize(a), neutralize(c), neutralize(cat), fmt_money(v)] for m, a, c, cat, v in rows)
    return buffer.getvalue()


def invoice_text(view) -> str:
    """`otb show INVOICE`: the invoice view as terminal text."""
    text = f"{view.title} {view.number} for {view.client_name}\n"
    text += "".join(f"  {label}: {value}\n" for label, value in view.meta)
    text += table(view.summary_header, view.summary, right={1, 2, 3})
    text += "".join(f"{label:>60}  {value}\n" for label, value in (*view.totals, view.amount_due))
    return text + "".join(f"{note}\n" for note in view.notes)
