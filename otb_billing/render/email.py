"""Email messages for invoices and reminders: subject and body from the user's Jinja2 templates, the stored PDFs
attached. Building a message reads nothing and sends nothing.

A French client (`language: fr`) gets the templates in `email/fr/`; a bilingual one gets the English message and
the French one in the same email, subjects joined by " / ".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import NamedTuple

from ..core.model import Invoice, Settings
from .i18n import Lang
from .templates import render_first

# Reminder wording by how late the latest invoice is: up to 30 days a friendly reminder (level 1), 31 to 60 a
# second notice (2), after 60 a final notice (3). Templates get `level` and choose their words with it.
REMINDER_LEVELS = ((30, 1), (60, 2))
FINAL_LEVEL = 3


def reminder_level(days_overdue: int) -> int:
    return next((level for limit, level in REMINDER_LEVELS if days_overdue <= limit), FINAL_LEVEL)


class Overdue(NamedTuple):
    """One overdue invoice of a reminder: the invoice, its PDF, what is still owed and how late it is."""

    invoice: Invoice
    pdf: bytes
    balance: Decimal
    days_overdue: int


def _languages(language: str) -> tuple[str, ...]:
    return ("en", "fr") if language == "bilingual" else (language if language in ("en", "fr") else "en",)


def _texts(root: Path, kind: str, language: str, values_in) -> tuple[str, str]:
    """Subject and body in the client's language(s): templates email/<lang>/<kind>_*.txt.j2, falling back to the
    English ones in email/."""
    subjects, bodies = [], []
    for lang in _languages(language):
        values = values_in(Lang(lang))
        names = [f"email/{lang}/{kind}_{{}}.txt.j2"] if lang != "en" else []
        names.append(f"email/{kind}_{{}}.txt.j2")
        subjects.append(" ".join(render_first(root, [n.format("subject") for n in names], **values).split()))
        bodies.append(render_first(root, [n.format("body") for n in names], **values))
    separator = "\n" + "-" * 40 + " Version française " + "-" * 10 + "\n\n"
    return " / ".join(subjects), separator.join(bodies)


def _envelope(settings: Settings, recipients, subject: str, body: str, at: dt.datetime, name: str,
              kind: str) -> EmailMessage:
    msg = EmailMessage()
    smtp = settings.smtp
    sender = smtp.from_address or settings.business.email
    msg["From"] = formataddr((smtp.from_name or settings.business.name, sender))
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at.astimezone(dt.UTC))
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{name}.{kind}.{at.astimezone(dt.UTC):%Y%m%d%H%M%S}@{domain}>"
    msg.set_content(body)
    return msg


def _common(settings: Settings, lang: Lang) -> dict:
    french = lang.language == "fr"
    return dict(business=settings.business.name,
                instructions=french and settings.french.payment_instructions or settings.payment_instructions,
                footer=french and settings.french.footer or settings.footer)


def message(root: Path, settings: Settings, invoice: Invoice, recipients, pdf: bytes, at: dt.datetime, *,
            kind: str = "invoice", balance=None, days_overdue: int = 0, amount_due=None,
            language: str = "en") -> EmailMessage:
    """`kind` is "invoice" or "reminder" (templates email/<kind>_subject.txt.j2 and email/<kind>_body.txt.j2)."""
    def values(lang: Lang) -> dict:
        owed = balance if balance is not None else invoice.total
        return dict(
            invoice=invoice, period=lang.period(invoice.month), due=lang.date(invoice.due),
            amount_due=lang.money(invoice.total if amount_due is None else amount_due, invoice.currency),
            balance=lang.money(owed, invoice.currency), days_overdue=days_overdue, **_common(settings, lang))

    subject, body = _texts(root, kind, language, values)
    msg = _envelope(settings, recipients, subject, body, at, invoice.number, kind)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    msg.set_boundary(f"otb-{invoice.number}-{kind}")  # fixed, so the same message is the same bytes
    return msg


def reminder_message(root: Path, settings: Settings, account: str, client_name: str, recipients,
                     items: list[Overdue], at: dt.datetime, language: str = "en") -> EmailMessage:
    """One reminder for all of a client's overdue invoices, oldest first, each PDF attached. Templates
    email/reminder_*.txt.j2 get `invoices` (number, period, due, balance, days_overdue), `count`, `total`,
    `days_overdue` (of the oldest), `level` (1 reminder, 2 second notice, 3 final notice) and `client`."""
    items = sorted(items, key=lambda o: (o.invoice.due, o.invoice.number))
    worst = max(o.days_overdue for o in items)

    def values(lang: Lang) -> dict:
        totals: dict[str, Decimal] = {}
        for o in items:
            totals[o.invoice.currency] = totals.get(o.invoice.currency, Decimal(0)) + o.balance
        return dict(
            client=client_name, account=account, count=len(items), days_overdue=worst,
            level=reminder_level(worst),
            total=" + ".join(lang.money(amount, currency) for currency, amount in totals.items()),
            invoices=[dict(number=o.invoice.number, period=lang.period(o.invoice.month),
                           due=lang.date(o.invoice.due), balance=lang.money(o.balance, o.invoice.currency),
                           total=lang.money(o.invoice.total, o.invoice.currency), days_overdue=o.days_overdue)
                      for o in items],
            **_common(settings, lang))

    subject, body = _texts(root, "reminder", language, values)
    msg = _envelope(settings, recipients, subject, body, at, account, "reminder")
    for o in items:
        msg.add_attachment(o.pdf, maintype="application", subtype="pdf", filename=f"{o.invoice.number}.pdf")
    msg.set_boundary(f"otb-{account}-reminder")
    return msg
