"""Email messages for invoices and reminders: subject and body from the user's Jinja2 templates, the stored PDF
attached. Building a message reads nothing and sends nothing."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from ..core.model import Invoice, Settings
from .moneyfmt import money
from .templates import render


def message(root: Path, settings: Settings, invoice: Invoice, recipients, pdf: bytes, at: dt.datetime, *,
            kind: str = "invoice", balance=None, days_overdue: int = 0, amount_due=None) -> EmailMessage:
    """`kind` is "invoice" or "reminder" (templates email/<kind>_subject.txt.j2 and email/<kind>_body.txt.j2)."""
    values = dict(
        invoice=invoice, period=invoice.month.label, due=f"{invoice.due:%B %-d, %Y}",
        amount_due=money(invoice.total if amount_due is None else amount_due, invoice.currency),
        balance=money(balance if balance is not None else invoice.total, invoice.currency),
        days_overdue=days_overdue, business=settings.business.name,
        instructions=settings.payment_instructions, footer=settings.footer,
    )
    msg = EmailMessage()
    smtp = settings.smtp
    sender = smtp.from_address or settings.business.email
    msg["From"] = formataddr((smtp.from_name or settings.business.name, sender))
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = " ".join(render(root, f"email/{kind}_subject.txt.j2", **values).split())
    msg["Date"] = format_datetime(at.astimezone(dt.timezone.utc))
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{invoice.number}.{kind}.{at.astimezone(dt.timezone.utc):%Y%m%d%H%M%S}@{domain}>"
    msg.set_content(render(root, f"email/{kind}_body.txt.j2", **values))
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    msg.set_boundary(f"otb-{invoice.number}-{kind}")  # fixed, so the same message is the same bytes
    return msg
