"""`otb email MONTH` and `otb remind`: send finalized invoices and overdue reminders over SMTP, exactly once.

Each send that the server accepts is recorded in the ledger as `custom "invoice-sent"` (or "invoice-reminded")
with the recipients, so an invoice is never emailed twice without --resend and a reminder goes out at most once
per `email.reminder_interval_days`. A failed send records nothing and says why; the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

from beancount.core import data

from .. import faults
from ..books.writer import quote
from ..core.errors import InputErrors, Problem
from ..core.model import Smtp
from ..core.month import Month
from ..journal import state_dir
from ..outputs import write_outputs
from ..render.email import Overdue, message, reminder_message
from .invoice_pdfs import load_snapshot
from .ledger_edit import appended, commit_ledger, ledger_file_edits, open_books


@dataclass
class Outcome:
    sent: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    outbox: list[Path] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # sent by an interrupted run, recorded by this one


def sent_log(entries, kind: str) -> dict[str, list[dt.date]]:
    """Invoice number -> dates it was sent (kind "invoice-sent") or reminded ("invoice-reminded")."""
    log: dict[str, list[dt.date]] = {}
    for entry in entries:
        if isinstance(entry, data.Custom) and entry.type == kind and entry.values:
            log.setdefault(str(entry.values[0].value), []).append(entry.date)
    return log


def password(smtp: Smtp, root: Path) -> str | None:
    """From the environment variable, else from the file (outside the repo, or git-ignored); never from settings.
    A relative password_file is relative to the billing repo."""
    if smtp.password_env and os.environ.get(smtp.password_env):
        return os.environ[smtp.password_env]
    if smtp.password_file:
        path = Path(smtp.password_file).expanduser()
        path = path if path.is_absolute() else root / path
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    return None


class Mailer:
    """One SMTP session for a batch; connect() raises OSError/SMTPException with the reason."""

    def __init__(self, smtp: Smtp, root: Path):
        self.smtp = smtp
        self.root = root
        self.server: smtplib.SMTP | None = None

    def connect(self) -> None:
        s = self.smtp
        if s.security == "ssl":
            self.server = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            self.server = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                self.server.starttls(context=ssl.create_default_context())
        if s.username:
            secret = password(s, self.root)
            if secret is None:
                raise smtplib.SMTPAuthenticationError(0, f"no password: set {s.password_env} or smtp.password_file")
            self.server.login(s.username, secret)

    def send(self, msg, recipients) -> None:
        if self.server is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        self.server.send_message(msg, to_addrs=list(recipients) + list(self.smtp.bcc))

    def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):  # the session is over either way
                self.server.quit()


def why(error: Exception) -> str:
    if isinstance(error, ConnectionRefusedError):
        return f"connection refused ({error})"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        said = error.smtp_error.decode() if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"authentication failed ({error.smtp_code} {said})"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "recipient refused: " + ", ".join(
            f"{r} ({c} {m.decode() if isinstance(m, bytes) else m})" for r, (c, m) in error.recipients.items()
        )
    return f"{type(error).__name__}: {error}"


class Job(NamedTuple):
    """One message: its name (an invoice number, or a client's account for a reminder), the invoices it is about
    (each recorded as sent or reminded), who gets it, and the message."""

    name: str
    numbers: tuple[str, ...]
    recipients: tuple[str, ...]
    message: EmailMessage


def _send_and_record(
    root: Path, jobs: list[Job], dry_run: bool, kind: str, at: dt.datetime, outcome: Outcome, settings,
    recovered: Sequence[str] = (),
) -> None:
    """Send the batch, then record in the ledger what the server accepted (after `recovered`: what an
    interrupted run had sent, from its journal). Each accepted send is first appended to the journal, so that a
    run killed before the record (SIGKILL, a power cut) does not send it again; an exception (Ctrl-C included)
    records what was accepted on the way out."""
    records: list[str] = list(recovered)
    journal = Journal(root, kind) if not dry_run else None
    try:
        _batch(root, jobs, dry_run, kind, at, outcome, settings, records, journal)
    finally:
        _record(root, records, at.date())
    if journal is not None:
        journal.clear()


class Journal:
    """`.otb/sending-<kind>.jsonl`: one line per message the server accepted and the ledger does not hold yet,
    written and fsynced right after the server said yes. The next run of the same command records those lines
    and does not send their messages again; only a message accepted in the instant before its line was written
    can be sent twice."""

    def __init__(self, root: Path, kind: str) -> None:
        self.path = state_dir(root) / f"sending-{kind}.jsonl"

    def add(self, numbers: tuple[str, ...], day: dt.date, records: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"numbers": list(numbers), "date": str(day), "records": records}) + "\n"
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            faults.point("fsync", self.path)
            os.fsync(out.fileno())

    def items(self) -> list[dict]:
        """Its lines, read back (a line cut short by a kill is left out: its message is sent again)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def clear(self) -> None:
        if self.path.exists():
            faults.point("unlink", self.path)
            self.path.unlink()


def _recover(root: Path, kind: str, log: dict[str, list[dt.date]], outcome: Outcome) -> list[str]:
    """The records an interrupted run journaled but did not get into the ledger; their invoices are entered in
    `log` as sent (or reminded) on their day, so that they are not sent again."""
    folder = _sent_folder(root)
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.beancount")))
    records: list[str] = []
    for item in Journal(root, kind).items():
        missing = [record for record in item["records"] if record not in text]
        if not missing:  # recorded before the kill; only the journal was left
            continue
        day = dt.date.fromisoformat(item["date"])
        for number in item["numbers"]:
            log.setdefault(number, []).append(day)
        records += missing
        outcome.recovered += list(item["numbers"])
    return records


def _sent_folder(root: Path) -> Path:
    """Where sends and reminders are recorded, a file per year."""
    return root / "ledger" / "sent"


def _batch(
    root: Path, jobs: list[Job], dry_run: bool, kind: str, at: dt.datetime, outcome: Outcome, settings,
    records: list[str], journal: Journal | None = None,
) -> None:
    """Send (or write to build/outbox/) each job's message; adds to `records` the ledger lines for what the
    server accepted, as it accepts them (and to `journal`)."""
    if dry_run:
        outbox = root / "build" / "outbox"
        files: dict[Path, bytes] = {}
        for job in jobs:
            path = outbox / f"{job.name}-{kind}.eml"
            files[path] = job.message.as_bytes()
            outcome.outbox.append(path)
        write_outputs(root, files)
        return
    if not jobs:
        return
    if not settings.smtp.host:
        raise InputErrors(
            [
                Problem(
                    None,
                    "no smtp settings",
                    "add smtp: {host: ..., from_address: ...} to "
                    "settings.yaml; the password goes in an environment variable",
                )
            ]
        )
    mailer = Mailer(settings.smtp, root)
    try:
        mailer.connect()
    except (OSError, smtplib.SMTPException) as error:
        outcome.failed += [(job.name, why(error)) for job in jobs]
        mailer.close()
        return
    try:
        for job in jobs:
            try:
                mailer.send(job.message, job.recipients)
            except (OSError, smtplib.SMTPException) as error:
                outcome.failed.append((job.name, why(error)))
                if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
                    mailer.close()
                    mailer = Mailer(settings.smtp, root)
                    try:
                        mailer.connect()
                    except (OSError, smtplib.SMTPException):
                        break
                continue
            shown = job.name if job.numbers == (job.name,) else f"{job.name} ({', '.join(job.numbers)})"
            outcome.sent.append((shown, tuple(job.recipients)))
            stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            accepted = [
                f'{at.date()} custom "invoice-{"sent" if kind == "invoice" else "reminded"}" '
                f"{quote(number)} {quote(', '.join(job.recipients))}\n  at: {quote(stamp)}\n"
                f"  message_id: {quote(job.message['Message-ID'])}\n"
                for number in job.numbers
            ]
            if journal is not None:
                journal.add(job.numbers, at.date(), accepted)
            records += accepted
    finally:
        mailer.close()


def _record(root: Path, records: list[str], day: dt.date) -> None:
    if not records:
        return
    path = _sent_folder(root) / f"{day.year:04d}.beancount"
    text = appended(
        path,
        ["\n".join(records)],
        f"; Invoices and reminders emailed in {day.year}, written by otb email / otb remind.\n",
    )
    commit_ledger(root, ledger_file_edits(root, {path: text}), "otb email")


def run_email(root: Path, month: Month, only, dry_run: bool, resend: bool, at: dt.datetime) -> Outcome:
    config, books = open_books(root)
    clients = {c.account: c for c in config.clients}
    sent = sent_log(books.entries, "invoice-sent")
    book = books.book(at.date())
    outcome, jobs = Outcome(), []
    recovered = [] if dry_run else _recover(root, "invoice", sent, outcome)
    for doc in sorted(books.docs, key=lambda d: d.number):
        if doc.period != str(month):  # adjustment invoices carry the period they adjust
            continue
        if only and doc.account not in only:
            continue
        if doc.draft:
            outcome.skipped.append((doc.number, f"still a draft: otb finalize {month}"))
            continue
        if doc.number in sent and not resend:
            outcome.skipped.append((doc.number, f"already sent on {sent[doc.number][-1]} (use --resend)"))
            continue
        job = _job(root, config, clients, book, doc, at, "invoice", outcome)
        if job:
            jobs.append(job)
    _send_and_record(root, jobs, dry_run, "invoice", at, outcome, config.settings, recovered)
    return outcome


def run_remind(root: Path, as_of: dt.date, dry_run: bool, at: dt.datetime) -> Outcome:
    """One message per client listing all its overdue invoices (their PDFs attached), worded by how late the
    latest is: a friendly reminder, a second notice after 30 days, a final notice after 60. A client is reminded
    when one of its overdue invoices was not reminded within `email.reminder_interval_days`."""
    config, books = open_books(root)
    clients = {c.account: c for c in config.clients}
    reminded = sent_log(books.entries, "invoice-reminded")
    book = books.book(as_of)
    interval = config.settings.reminder_interval_days
    outcome, jobs = Outcome(), []
    recovered = [] if dry_run else _recover(root, "reminder", reminded, outcome)
    overdue: dict[str, list] = {}
    for _, state in sorted(book.invoices.items()):
        if state.status == "overdue":
            overdue.setdefault(state.doc.account, []).append(state)
    for account, states in sorted(overdue.items()):
        due_now = [
            s
            for s in states
            if (last := max(reminded.get(s.doc.number, []), default=None)) is None or (as_of - last).days >= interval
        ]
        if not due_now:
            for s in states:
                last = max(reminded[s.doc.number])
                outcome.skipped.append((s.doc.number, f"reminded on {last}; next after {interval} days"))
            continue
        job = _reminder(root, config, clients.get(account), account, states, at, outcome)
        if job:
            jobs.append(job)
    _send_and_record(root, jobs, dry_run, "reminder", at, outcome, config.settings, recovered)
    return outcome


def _reminder(root, config, client, account, states, at, outcome) -> Job | None:
    recipients = client.billing_emails if client else ()
    if not recipients:
        outcome.skipped.append((account, f"client {account} has no billing_email"))
        return None
    items = []
    for state in states:
        doc = state.doc
        pdf_path = root / "ledger" / "documents" / f"{doc.date.year:04d}" / f"{doc.number}.pdf"
        stored = load_snapshot(root / "ledger", doc.number, doc.date.year)
        if stored is None or not pdf_path.exists():
            outcome.skipped.append((doc.number, "no stored PDF in ledger/documents (finalize it with otb finalize)"))
            continue
        items.append(Overdue(stored[0], pdf_path.read_bytes(), state.balance, state.days_overdue))
    if not items:
        return None
    name = client.name if client else account
    msg = reminder_message(
        root, config.settings, account, name, recipients, items, at, language=client.language if client else ""
    )
    return Job(account, tuple(item.invoice.number for item in items), tuple(recipients), msg)


def _job(root, config, clients, book, doc, at, kind, outcome) -> Job | None:
    client = clients.get(doc.account)
    recipients = client.billing_emails if client else ()
    if not recipients:
        outcome.skipped.append((doc.number, f"client {doc.account} has no billing_email"))
        return None
    pdf_path = root / "ledger" / "documents" / f"{doc.date.year:04d}" / f"{doc.number}.pdf"
    stored = load_snapshot(root / "ledger", doc.number, doc.date.year)
    if stored is None or not pdf_path.exists():
        outcome.skipped.append((doc.number, "no stored PDF in ledger/documents (finalize it with otb finalize)"))
        return None
    state = book.invoices.get(doc.number)
    balance = state.balance if state else doc.total
    msg = message(
        root,
        config.settings,
        stored[0],
        recipients,
        pdf_path.read_bytes(),
        at,
        kind=kind,
        balance=balance,
        amount_due=balance,
        days_overdue=state.days_overdue if state else 0,
        language=client.language if client else "",
    )
    return Job(doc.number, (doc.number,), tuple(recipients), msg)
