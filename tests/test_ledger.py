"""The ledger that `otb bill` writes: valid, formatted, stable, replaced only where it should be, atomic."""

from __future__ import annotations

import os

import pytest
from beancount import loader
from beancount.scripts.format import align_beancount

from otb_billing import journal
from otb_billing.core.month import Month
from otb_billing.jobs.bill import run_bill
from otb_billing.journal import repo_lock

USERS = "account,user_id,name,email,active"


@pytest.fixture
def billed(repo):
    repo.client("A1", name="Alpha")
    repo.client("B2", name='Beta "Quoted" \\ Co', province="AB")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "B2,u3,Three,,true")
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 0, result.output
    return repo


def squash(text: str) -> str:
    return " ".join(text.split())


def month_text(repo, month="2024-10"):
    return (repo.root / f"ledger/invoices/{month[:4]}/{month}.beancount").read_text()


def test_a_new_repo_gets_a_ledger_skeleton_that_passes_bean_check(billed):
    ledger = billed.root / "ledger"
    assert (ledger / "main.beancount").exists() and (ledger / "accounts.beancount").exists()
    assert 'include "invoices/2024/2024-10.beancount"' in (ledger / "main.beancount").read_text()
    entries, errors, options = loader.load_file(str(ledger / "main.beancount"))
    assert errors == []
    txns = [e for e in entries if type(e).__name__ == "Transaction"]
    assert [(t.flag, sorted(t.links), t.meta["invoice"]) for t in txns] == [
        ("!", ["A1-202410"], "A1-202410"),
        ("!", ["B2-202410"], "B2-202410"),
    ]
    accounts = (ledger / "accounts.beancount").read_text()
    assert 'open Assets:Receivable:A1\n  account_number: "A1"\n  client: "Alpha"' in accounts


def test_bean_format_leaves_the_files_unchanged(billed):
    for path in (billed.root / "ledger").rglob("*.beancount"):
        text = path.read_text()
        assert align_beancount(text, currency_column=61) == text, path


def test_strings_are_escaped(billed):
    assert '"Beta \\"Quoted\\" \\\\ Co"' in month_text(billed)
    entries, errors, _ = loader.load_file(str(billed.root / "ledger/main.beancount"))
    assert errors == []
    assert any(getattr(e, "payee", None) == 'Beta "Quoted" \\ Co' for e in entries)


def test_billing_twice_gives_byte_identical_files(billed):
    first = billed.snapshot()
    assert billed.run("bill", "2024-10").exit_code == 0
    assert billed.snapshot() == first


def test_rebilling_one_client_keeps_the_others(billed):
    before = month_text(billed)
    b2_block = before[before.index("2024-10-31 ! \"Beta"):]
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u3,Three,,true", "B2,u4,Four,,true")
    assert billed.run("bill", "2024-10", "--client", "A1").exit_code == 0
    after = month_text(billed)
    assert after.endswith(b2_block)  # B2 not rebilled although its users changed
    assert "Assets:Receivable:A1 16.95 CAD" in squash(after)  # one user: 15.00 + 13% HST
    csvs = sorted(p.name for p in (billed.root / "build/2024-10").glob("*-20241[0-9].csv"))
    assert csvs == ["Alpha-A1-202410.csv", 'Beta -Quoted- - Co-B2-202410.csv']


def test_a_full_rebill_drops_drafts_of_clients_no_longer_billed(billed):
    (billed.root / "clients/B2.yaml").unlink()
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert billed.run("bill", "2024-10").exit_code == 0
    assert "B2-202410" not in month_text(billed)
    assert [p.name for p in (billed.root / "build/2024-10").glob("*-202410.csv")] == ["Alpha-A1-202410.csv"]


def test_finalized_invoices_are_never_rewritten(billed):
    path = billed.root / "ledger/invoices/2024/2024-10.beancount"
    path.write_text(path.read_text().replace('2024-10-31 ! "Alpha"', '2024-10-31 * "Alpha"'))
    final_block = path.read_text().split("\n\n")[1]
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u3,Three,,true", "B2,u9,Nine,,true")
    result = billed.run("bill", "2024-10")
    assert result.exit_code == 0, result.output
    assert final_block in path.read_text()
    assert ("A1-202410 is finalized with total 33.90; the inputs now give 16.95 (Income:Managed:Users 30.00 -> "
            "15.00; Liabilities:Tax:HST 3.90 -> 1.95). It was not changed (credit the difference with "
            '`otb credit A1-202410 --amount 16.95 --reason "..."`)') in result.output
    assert "Finalized invoices kept as they are: A1-202410" in result.output
    assert "Assets:Receivable:B2 31.50 CAD" in squash(path.read_text())  # 2 x 15 + 5% GST


def test_dry_run_writes_nothing(billed):
    before = billed.snapshot()
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    before = billed.snapshot()
    assert billed.run("bill", "2024-10", "--dry-run").exit_code == 0
    assert billed.snapshot() == before


def test_a_failed_write_leaves_every_file_as_it_was(billed, monkeypatch):
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "C3,u5,Five,,true")
    billed.client("C3", name="Gamma")  # needs a new account opened and a changed month file
    before = billed.snapshot()
    real = journal._write_synced
    calls = []

    def disk_full_on_the_second_file(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(journal, "_write_synced", disk_full_on_the_second_file)
    with pytest.raises(OSError):
        run_bill(billed.root, Month(2024, 10))
    assert billed.snapshot() == before
    assert not [p for p in billed.root.rglob("*") if p.is_file() and ".otb/" in p.as_posix()
                and "verified" not in p.name and ".otb/cache/" not in p.as_posix()]  # memos, not state


def test_a_second_run_on_the_same_repo_is_refused(billed):
    with repo_lock(billed.root, "otb finalize"):
        result = billed.run("bill", "2024-10")
    assert result.exit_code == 1
    assert f"otb finalize (pid {os.getpid()}) is working on" in result.output
    assert "wait for it to finish" in result.output
    assert billed.run("bill", "2024-10").exit_code == 0  # the lock is gone with its holder


def test_a_run_killed_outright_does_not_refuse_the_next_while_its_helpers_die(billed):
    """kill -9 of otb, then the same command at once: the helpers that inherited the lock die with their parent,
    but not in the same instant; the next run waits for them (its holder is gone) instead of refusing."""
    import fcntl
    import threading
    import time

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # a pid that is no process any more
    helper = open(billed.root / ".otb.lock", "a+")  # the lock as a dying helper still holds it
    fcntl.flock(helper.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    helper.truncate(0)
    helper.write(f"otb pay (pid {pid})\n")
    helper.flush()
    threading.Timer(0.3, helper.close).start()
    started = time.monotonic()
    result = billed.run("bill", "2024-10")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.29


def test_hand_written_lines_in_main_and_accounts_survive(billed):
    main = billed.root / "ledger/main.beancount"
    main.write_text(main.read_text() + '\n; my own notes\noption "render_commas" "TRUE"\n')
    accounts = billed.root / "ledger/accounts.beancount"
    accounts.write_text(accounts.read_text() + "2000-01-01 open Expenses:Software\n")
    billed.csv("2024-11", "users.csv", USERS, "A1,u1,One,,true")
    assert billed.run("bill", "2024-11").exit_code == 0
    assert "; my own notes" in main.read_text()
    assert 'include "invoices/2024/2024-11.beancount"' in main.read_text()
    assert "2000-01-01 open Expenses:Software" in accounts.read_text()
    _, errors, _ = loader.load_file(str(main))
    assert errors == []


def test_a_zero_invoice_is_still_booked(repo):
    """Fully prepaid hours and free users still make an invoice, so the pool use is recorded."""
    repo.client("A1", 'prepaid_hours: {monthly: 10}\nusers: {"u1": free}\n')
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,Boss,,true")
    repo.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", "A1,T1,x,2024-10-03,2")
    assert repo.run("bill", "2024-10").exit_code == 0
    text = month_text(repo)
    assert "Assets:Receivable:A1 0.00 CAD" in squash(text)
    assert "pool_year: 2024" in text and "Assets:Receivable:A1 0.00 CAD" in squash(text)
    _, errors, _ = loader.load_file(str(repo.root / "ledger/main.beancount"))
    assert errors == []


def test_many_clients_show_a_progress_bar(repo):
    for n in range(301):
        repo.client(f"C{n:03d}")
    repo.csv("2024-10", "users.csv", USERS, *(f"C{n:03d},u{n},User,,true" for n in range(301)))
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 0, result.output
    assert "Billing 2024-10" in result.output
    assert "301 invoice(s)" in result.output


def test_an_amount_left_out_by_a_hand_edit_is_a_problem_with_its_line(billed):
    """Beancount fills in one left-out amount per transaction, so bean-check passes; otb reads the amounts of its
    own entries as written and says which line lacks one (before: a traceback)."""
    path = billed.root / "ledger/invoices/2024/2024-10.beancount"
    assert billed.run("finalize", "2024-10", "--at", "2024-11-01T12:00:00Z").exit_code == 0
    text = path.read_text()
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines) if line.strip().startswith("Assets:Receivable:A1"))
    lines[number] = "  Assets:Receivable:A1"
    path.write_text("\n".join(lines) + "\n")
    billed.csv("2024-11", "users.csv", USERS, "A1,u1,One,,true")
    result = billed.run("bill", "2024-11")
    assert result.exit_code != 0
    assert f"ledger/invoices/2024/2024-10.beancount:{number + 1}" in result.output
    assert "Assets:Receivable:A1 has no amount; write it out" in result.output
    assert "Traceback" not in result.output


def _mtimes(root):
    """Every file of the repo but otb's own working state, with its mtime."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and ".otb" not in p.parts and p.name != ".otb.lock"}


def test_billing_again_with_nothing_changed_says_so_and_touches_nothing(billed):
    before = _mtimes(billed.root)
    result = billed.run("bill", "2024-10")
    assert result.exit_code == 0, result.output
    assert "Nothing changed: the ledger and build/2024-10/ already hold this bill." in result.output
    after = _mtimes(billed.root)
    assert after == before


def test_the_journal_compares_a_file_a_chunk_at_a_time_and_records_its_hash(tmp_path, monkeypatch):
    """A rebill's month file is compared with its new bytes in chunks, not read whole beside them; the same
    bytes leave it out of the change, any other bytes (longer, shorter, one byte off) put it in with the old
    file's SHA-256."""
    import hashlib
    import json

    monkeypatch.setattr(journal, "COMPARE_CHUNK", 7)
    path = tmp_path / "ledger" / "month.beancount"
    path.parent.mkdir()
    old = b"2024-10-31 ! \"Acme\" \"Invoice\"\n" * 5
    sha = hashlib.sha256(old).hexdigest()
    for new, changed in [(old, False), (old + b"\n", True), (old[:-1], True), (old[:20] + b"?" + old[21:], True),
                         (b"", True)]:
        path.write_bytes(old)
        journaled = []

        def apply(root, txn, entries, real=journal._apply, journaled=journaled):
            journaled.append(json.loads((txn / journal.JOURNAL).read_text())["files"])
            return real(root, txn, entries)

        monkeypatch.setattr(journal, "_apply", apply)
        assert journal.commit(tmp_path, {path: new}) == (["ledger/month.beancount"] if changed else [])
        assert journaled == ([[{"path": "ledger/month.beancount", "staged": "00001", "old": sha,
                                "new": hashlib.sha256(new).hexdigest()}]] if changed else [])
        assert path.read_bytes() == new
        monkeypatch.undo()
        monkeypatch.setattr(journal, "COMPARE_CHUNK", 7)
    assert journal._compare(tmp_path / "absent", b"x") == (None, False)
    path.write_bytes(old)
    assert journal._compare(path, None) == (sha, False)  # a deletion: only the hash is wanted
    assert journal.commit(tmp_path, {path: None}) == ["ledger/month.beancount"] and not path.exists()
    assert journal.commit(tmp_path, {path: None}) == []  # nothing left to delete


def test_an_invoices_postings_sum_its_lines_per_account_whatever_their_order(example):
    """books/writer.invoice_postings sums by category first, then names each account once: the same postings as
    adding line by line to the account each line names, also where categories share an account or cancel out."""
    import dataclasses
    import random
    from decimal import Decimal

    from otb_billing.books import accounts, writer
    from otb_billing.core.model import Line
    from otb_billing.jobs.pipeline import compute

    def by_line(invoice) -> list:
        totals: dict[str, Decimal] = {}
        for line in invoice.lines:
            name = accounts.income(line.category)
            totals[name] = totals.get(name, Decimal(0)) + line.amount
        fixed = [accounts.CATEGORY_ACCOUNTS[c] for c in accounts.CATEGORY_ORDER]
        ordered = sorted(totals, key=lambda a: (fixed.index(a) if a in fixed else len(fixed), a))
        return ([(name, -totals[name]) for name in ordered if totals[name]]
                + [(accounts.tax(t), -t.amount) for t in invoice.taxes if t.amount])

    _, result, _ = compute(example, Month(2024, 10))
    categories = ["users", "servers", "devices", "discount", "item:Cloud Hosting", "item:Cloud-Hosting", "service:SSL",
                  "account:Income:Managed:Users", "account:Income:Backup", "backup"]
    rng = random.Random(5)
    for invoice in result.invoices * 20:
        lines = [Line(rng.choice(categories), "x", Decimal(1), amount, True, "")
                 for amount in (Decimal(rng.randint(-5000, 20000)) / 100 for _ in range(rng.randint(0, 30)))]
        lines += [line._replace(amount=-line.amount) for line in lines[:rng.randint(0, 3)]]  # some cancel out
        rng.shuffle(lines)
        invoice = dataclasses.replace(invoice, lines=tuple(lines))
        assert writer.invoice_postings(invoice) == by_line(invoice)
    assert writer.invoice_postings(result.invoices[0])[0][0] == "Income:Managed:Users"
