"""Email over a real SMTP server on localhost (aiosmtpd): what arrives, what is recorded, and what is not."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from beancount import loader
from conftest import ok

USERS = "account,user_id,name,email,active"


class Inbox:
    """An aiosmtpd handler that keeps every message and refuses recipients at refused.example."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def smtp_settings(port: int, username: str = "") -> str:
    user = f"  username: {username}\n" if username else ""
    return (f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n{user}"
            "  from_address: billing@test.example\n  from_name: Test Billing\n  password_env: OTB_TEST_SMTP_PW\n"
            "email: {reminder_interval_days: 7}\n")



@pytest.fixture
def issued(repo):
    repo.client("A1", "billing_email: [ap@alpha.example, cfo@alpha.example]\n", name="Alpha Co")
    repo.client("B2", "billing_email: boss@refused.example\n", name="Beta Co")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true")
    ok(repo, "bill", "2024-10")
    ok(repo, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    return repo


def sent_records(repo, kind="invoice-sent"):
    entries, errors, _ = loader.load_file(str(repo.root / "ledger/main.beancount"))
    assert errors == []
    return [(e.date, [v.value for v in e.values]) for e in entries if type(e).__name__ == "Custom" and e.type == kind]


def test_email_sends_each_finalized_invoice_once_with_its_stored_pdf(issued, smtp_server):
    inbox, port = smtp_server
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text() + smtp_settings(port))
    result = issued.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")
    assert result.exit_code == 1  # Beta's address is refused
    assert "sent A1-202410 to ap@alpha.example, cfo@alpha.example" in result.output
    assert "FAILED B2-202410: recipient refused: boss@refused.example (550 5.1.1 no such mailbox)" in result.output
    [(sender, recipients, msg)] = inbox.messages
    assert sender == "billing@test.example"
    assert recipients == ["ap@alpha.example", "cfo@alpha.example"]
    assert msg["Subject"] == "Invoice A1-202410 from Test MSP (October 2024)"
    assert msg["From"] == "Test Billing <billing@test.example>"
    body = msg.get_body(("plain",)).get_content()
    assert "Please find attached invoice A1-202410 for October 2024." in body
    assert "Amount due: $16.95" in body and "Due date:   November 30, 2024" in body
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "A1-202410.pdf"
    assert attachment.get_content() == (issued.root / "ledger/documents/2024/A1-202410.pdf").read_bytes()
    assert sent_records(issued) == [(__import__("datetime").date(2024, 11, 2),
                                     ["A1-202410", "ap@alpha.example, cfo@alpha.example"])]
    # never twice, unless --resend
    again = issued.run("email", "2024-10", "--client", "A1", "--at", "2024-11-03T14:00:00Z")
    assert again.exit_code == 0 and "skipped A1-202410: already sent on 2024-11-02 (use --resend)" in again.output
    assert len(inbox.messages) == 1
    ok(issued, "email", "2024-10", "--client", "A1", "--resend", "--at", "2024-11-03T15:00:00Z")
    assert len(inbox.messages) == 2 and len(sent_records(issued)) == 2


def test_connection_refused_records_nothing(issued):
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text() + smtp_settings(free_port()))
    before = issued.snapshot()
    result = issued.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")
    assert result.exit_code == 1
    assert "FAILED A1-202410: connection refused" in result.output
    assert "FAILED B2-202410: connection refused" in result.output
    assert issued.snapshot() == before


def test_authentication_failure_records_nothing(issued, monkeypatch):
    inbox = Inbox()

    def reject(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=reject,
                            auth_require_tls=False)
    controller.start()
    try:
        monkeypatch.setenv("OTB_TEST_SMTP_PW", "wrong")
        issued.write("settings.yaml", (issued.root / "settings.yaml").read_text()
                     + smtp_settings(controller.port, username="billing"))
        before = issued.snapshot()
        result = issued.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert "FAILED A1-202410: authentication failed (535" in result.output
    assert inbox.messages == [] and issued.snapshot() == before


def test_a_missing_password_is_an_auth_failure_not_a_crash(issued, smtp_server, monkeypatch):
    monkeypatch.delenv("OTB_TEST_SMTP_PW", raising=False)
    _, port = smtp_server
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text() + smtp_settings(port, "billing"))
    result = issued.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")
    assert result.exit_code == 1 and "no password: set OTB_TEST_SMTP_PW or smtp.password_file" in result.output


def test_a_password_in_settings_is_refused(issued):
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text()
                 + "smtp: {host: x, from_address: a@b.example, password: hunter2}\n")
    result = issued.run("email", "2024-10")
    assert result.exit_code == 1
    assert "a password must not be written in settings.yaml" in result.output


def test_dry_run_writes_the_exact_messages_and_sends_nothing(issued, smtp_server):
    inbox, port = smtp_server
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text() + smtp_settings(port))
    ledger_before = {p: p.read_bytes() for p in (issued.root / "ledger").rglob("*") if p.is_file()}
    out = ok(issued, "email", "2024-10", "--dry-run", "--at", "2024-11-02T14:00:00Z")
    assert "dry run: wrote" in out and inbox.messages == []
    eml = issued.root / "build/outbox/A1-202410-invoice.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "ap@alpha.example, cfo@alpha.example"
    assert list(msg.iter_attachments())[0].get_content() == (
        issued.root / "ledger/documents/2024/A1-202410.pdf").read_bytes()
    first = eml.read_bytes()
    ok(issued, "email", "2024-10", "--dry-run", "--at", "2024-11-02T14:00:00Z")
    assert eml.read_bytes() == first
    assert {p: p.read_bytes() for p in (issued.root / "ledger").rglob("*") if p.is_file()} == ledger_before


def test_reminders_for_overdue_invoices_at_most_once_per_interval(issued, smtp_server):
    inbox, port = smtp_server
    issued.write("settings.yaml", (issued.root / "settings.yaml").read_text() + smtp_settings(port))
    assert "skipped" not in ok(issued, "remind", "--as-of", "2024-11-20", "--at", "2024-11-20T14:00:00Z")
    assert inbox.messages == []  # nothing is overdue before 2024-11-30
    result = issued.run("remind", "--as-of", "2024-12-05", "--at", "2024-12-05T14:00:00Z")
    assert "sent A1 (A1-202410) to ap@alpha.example, cfo@alpha.example" in result.output
    [(_, _, msg)] = inbox.messages
    assert msg["Subject"] == "Reminder: 1 overdue invoice from Test MSP ($16.95)"
    body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "friendly reminder that the following invoice is past due" in body
    assert "A1-202410              October 2024     due November 30, 2024            $16.95" in body
    out = issued.run("remind", "--as-of", "2024-12-08", "--at", "2024-12-08T14:00:00Z").output
    assert "skipped A1-202410: reminded on 2024-12-05; next after 7 days" in out
    issued.run("remind", "--as-of", "2024-12-12", "--at", "2024-12-12T14:00:00Z")
    assert len([m for m in inbox.messages if "Reminder" in m[2]["Subject"]]) == 2
    ok(issued, "pay", "A1", "16.95", "--date", "2024-12-13")
    issued.run("remind", "--as-of", "2024-12-30", "--at", "2024-12-30T14:00:00Z")
    assert len(inbox.messages) == 2  # paid: no more reminders
    assert [v[0] for _, v in sent_records(issued, "invoice-reminded")] == ["A1-202410", "A1-202410"]


def test_the_billing_repo_templates_win_over_the_defaults(issued):
    issued.write("templates/email/invoice_subject.txt.j2", "Your {{ period }} bill: {{ invoice.number }}\n")
    ok(issued, "email", "2024-10", "--client", "A1", "--dry-run", "--at", "2024-11-02T14:00:00Z")
    msg = email.message_from_bytes((issued.root / "build/outbox/A1-202410-invoice.eml").read_bytes(),
                                   policy=email.policy.default)
    assert msg["Subject"] == "Your October 2024 bill: A1-202410"
    assert "Please find attached invoice A1-202410" in msg.get_body(("plain",)).get_content()  # default body


def test_one_reminder_per_client_lists_every_overdue_invoice_and_escalates(repo, smtp_server):
    inbox, port = smtp_server
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text() + smtp_settings(port))
    repo.client("A1", "billing_email: ap@alpha.example\n", name="Alpha Co")
    for month, count in (("2024-10", 1), ("2024-11", 2)):
        repo.users(month, "A1", count)
        ok(repo, "bill", month)
        ok(repo, "finalize", month, "--at", f"{month}-28T12:00:00Z")
    # October: 15.00 + HST 1.95 = 16.95, due 2024-11-30; November: 30.00 + 3.90 = 33.90, due 2024-12-30
    ok(repo, "pay", "A1", "6.95", "--date", "2024-12-01")  # October's balance is now 10.00
    repo.run("remind", "--as-of", "2025-01-15", "--at", "2025-01-15T14:00:00Z")
    [(_, recipients, msg)] = inbox.messages  # one message for both invoices
    assert recipients == ["ap@alpha.example"]
    # October is 46 days late: the second notice; the total is 10.00 + 33.90
    assert msg["Subject"] == "Second notice: 2 overdue invoices from Test MSP ($43.90)"
    body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "We have not yet received payment for the following invoices, now 46 days past due:" in body
    assert ("  A1-202410              October 2024     due November 30, 2024            $10.00\n"
            "  A1-202411              November 2024    due December 30, 2024            $33.90\n") in body
    assert "Total past due: $43.90" in body
    assert [part.get_filename() for part in msg.iter_attachments()] == ["A1-202410.pdf", "A1-202411.pdf"]
    assert [v[0] for _, v in sent_records(repo, "invoice-reminded")] == ["A1-202410", "A1-202411"]
    repo.run("remind", "--as-of", "2025-02-05", "--at", "2025-02-05T14:00:00Z")  # 67 days: the final notice
    assert inbox.messages[-1][2]["Subject"] == "Final notice: 2 overdue invoices from Test MSP ($43.90)"
    assert "This is our final notice" in inbox.messages[-1][2].get_body(("plain",)).get_content()
    ok(repo, "pay", "A1", "10.00", "--date", "2025-02-06")
    repo.run("remind", "--as-of", "2025-02-20", "--at", "2025-02-20T14:00:00Z")  # November alone, 52 days late
    assert inbox.messages[-1][2]["Subject"] == "Second notice: 1 overdue invoice from Test MSP ($33.90)"
    assert len(inbox.messages) == 3


def three_issued(repo, port: int) -> None:
    """Three clients' October invoices issued, each to its own address, and otb pointed at the test server."""
    for account in ("A1", "B2", "C3"):
        repo.client(account, f"billing_email: ap@{account.lower()}.example\n", name=f"{account} Co")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true", "C3,u3,Three,,true")
    ok(repo, "bill", "2024-10")
    ok(repo, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text() + smtp_settings(port))


def test_what_the_server_accepted_before_a_ctrl_c_is_recorded_and_not_sent_again(repo, smtp_server, monkeypatch):
    from otb_billing.jobs import email as email_job

    inbox, port = smtp_server
    three_issued(repo, port)
    real_send = email_job.Mailer.send
    calls = []

    def send_then_ctrl_c(self, msg, recipients):
        calls.append(msg["Subject"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the billing admin's Ctrl-C, while the third message goes out
        real_send(self, msg, recipients)

    monkeypatch.setattr(email_job.Mailer, "send", send_then_ctrl_c)
    result = repo.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")
    assert result.exit_code != 0  # interrupted
    assert [recipients for _, recipients, _ in inbox.messages] == [["ap@a1.example"], ["ap@b2.example"]]
    assert [values[0] for _, values in sent_records(repo)] == ["A1-202410", "B2-202410"]
    monkeypatch.setattr(email_job.Mailer, "send", real_send)
    again = repo.run("email", "2024-10", "--at", "2024-11-02T14:05:00Z")
    assert again.exit_code == 0, again.output
    assert "skipped A1-202410: already sent on 2024-11-02" in again.output
    assert [recipients for _, recipients, _ in inbox.messages] == [["ap@a1.example"], ["ap@b2.example"],
                                                                   ["ap@c3.example"]]  # C3 once, A1 and B2 not again
    assert [values[0] for _, values in sent_records(repo)] == ["A1-202410", "B2-202410", "C3-202410"]


def test_a_run_killed_mid_batch_is_recorded_by_the_next_one_without_sending_again(repo, smtp_server):
    """SIGKILL (as a power cut would) right after the server accepted the second of three messages."""
    import os
    import subprocess
    import sys

    inbox, port = smtp_server
    three_issued(repo, port)
    twin = repo.root.parent / "twin"  # the same repo, for a run nobody stops
    __import__("shutil").copytree(repo.root, twin)
    args = [sys.executable, "-m", "otb_billing", "email", "2024-10", "--at", "2024-11-02T14:00:00Z"]
    log = repo.root.parent / "faults.log"
    subprocess.run([*args, "--root", str(twin)], env={**os.environ, "OTB_FAULT_LOG": str(log)}, check=True,
                   capture_output=True)
    points = [line.split()[0] for line in log.read_text().splitlines() if "sending-invoice.jsonl" in line]
    assert len(points) == 4  # an fsync per accepted message, and the journal removed after the ledger commit
    killed = subprocess.run([*args, "--root", str(repo.root)], env={**os.environ, "OTB_FAULT_AT": points[1]},
                            capture_output=True, text=True)
    assert killed.returncode == -9
    assert [r for _, r, _ in inbox.messages[3:]] == [["ap@a1.example"], ["ap@b2.example"]]  # after the twin's 3
    assert sent_records(repo) == []  # nothing in the ledger yet
    again = repo.run("email", "2024-10", "--at", "2024-11-02T14:00:00Z")  # the same time, as the twin's
    assert again.exit_code == 0, again.output
    assert "recorded A1-202410: sent by the run that was stopped" in again.output
    assert "recorded B2-202410: sent by the run that was stopped" in again.output
    assert [r for _, r, _ in inbox.messages[3:]] == [["ap@a1.example"], ["ap@b2.example"], ["ap@c3.example"]]
    # the ledger as the uninterrupted run left it, byte for byte, and no journal left behind
    assert (repo.root / "ledger/sent/2024.beancount").read_bytes() == (twin / "ledger/sent/2024.beancount").read_bytes()
    assert not list((repo.root / ".otb").glob("sending-*"))
