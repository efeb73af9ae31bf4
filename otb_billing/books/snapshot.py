"""The data of an issued invoice, stored beside its PDF when it is finalized.

Finalized invoices are never recomputed: their HTML view, their PDF and their email come from this snapshot, so a
later change of a plan or an export cannot change a document the client already has. Money is written as strings.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from ..core.model import Counts, Invoice, Line, PriceBook, Rates, TaxLine, TicketSummary
from ..core.money import plain
from ..core.month import Month

VERSION = 2  # 2: the prices it was billed at ("prices"); version 1 snapshots have none


def _d(value) -> Decimal:
    return Decimal(str(value))


def to_json(invoice: Invoice) -> str:
    data = {
        "version": VERSION,
        "number": invoice.number, "account": invoice.account, "client": invoice.client,
        "month": str(invoice.month), "date": str(invoice.date), "due": str(invoice.due),
        "currency": invoice.currency, "plan": invoice.plan, "term": invoice.term,
        "support_level": invoice.support_level,
        "lines": [[ln.category, ln.description, str(ln.quantity), str(ln.rate), str(ln.amount), ln.taxable, ln.item]
                  for ln in invoice.lines],
        "taxes": [[t.name, str(t.rate), str(t.base), str(t.amount), t.registration, t.province]
                  for t in invoice.taxes],
        "counts": {k: str(v) for k, v in zip(Counts.__dataclass_fields__, (getattr(invoice.counts, f) for f in
                                                                          Counts.__dataclass_fields__), strict=False)},
        "notes": list(invoice.notes),
        "prepaid_monthly_used": str(invoice.prepaid_monthly_used),
        "prepaid_yearly_used": str(invoice.prepaid_yearly_used),
        "pool_year": invoice.pool_year,
        "tickets": [[t.ticket, t.subject, str(t.hours), str(t.billable_hours), [str(d) for d in t.dates]]
                    for t in invoice.tickets],
        "base_currency": invoice.base_currency,
        "fx_rate": plain(invoice.fx_rate) if invoice.fx_rate is not None else None,
        "fx_date": str(invoice.fx_date) if invoice.fx_date else None,
    }
    if invoice.prices is not None:
        data["prices"] = {
            "rates": {k: plain(v) for k, v in sorted(invoice.prices.rates.values.items())},
            "backup_included_per_device": invoice.prices.rates.backup_included_per_device,
            "services": {k: plain(v) for k, v in sorted(invoice.prices.services.items())},
            "conversion_fee_pct": plain(invoice.prices.conversion_fee_pct),
        }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def from_json(text: str) -> Invoice:
    data = json.loads(text)
    whole = ("users", "workstations", "servers", "vms", "switches", "firewalls")
    counts: dict[str, Any] = {k: (int(v) if k in whole else _d(v)) for k, v in data["counts"].items()}
    return Invoice(
        number=data["number"], account=data["account"], client=data["client"], month=Month.parse(data["month"]),
        date=dt.date.fromisoformat(data["date"]), due=dt.date.fromisoformat(data["due"]),
        currency=data["currency"], plan=data["plan"], term=data["term"], support_level=data["support_level"],
        lines=tuple(Line(c, d, _d(q), _d(r), _d(a), t, i) for c, d, q, r, a, t, i in data["lines"]),
        taxes=tuple(TaxLine(n, _d(r), _d(b), _d(a), reg, p) for n, r, b, a, reg, p in data["taxes"]),
        counts=Counts(**counts), notes=tuple(data["notes"]),
        prepaid_monthly_used=_d(data["prepaid_monthly_used"]), prepaid_yearly_used=_d(data["prepaid_yearly_used"]),
        pool_year=data["pool_year"],
        tickets=tuple(TicketSummary(t[0], t[1], _d(t[2]), _d(t[3]),
                                    tuple(dt.date.fromisoformat(d) for d in (t[4] if len(t) > 4 else ())))
                      for t in data["tickets"]),
        status="issued", base_currency=data["base_currency"],
        fx_rate=_d(data["fx_rate"]) if data["fx_rate"] is not None else None,
        fx_date=dt.date.fromisoformat(data["fx_date"]) if data["fx_date"] else None,
        prices=prices_from(data.get("prices")),
    )


def prices_from(data: dict | None) -> PriceBook | None:
    if not data:
        return None
    return PriceBook(Rates({k: _d(v) for k, v in data["rates"].items()}, bool(data["backup_included_per_device"])),
                     {k: _d(v) for k, v in data["services"].items()}, _d(data["conversion_fee_pct"]))
