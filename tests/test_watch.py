"""`otb watch`: a real process, real file-system events (inotify, and polling), real saves the way editors make
them; and the session's choice of whom to bill again, checked in-process.

Hand-computed amounts: the Gold plan bills $15.00 a user, HST 13% in Ontario.
A with 3 users: 45.00 + 5.85 = $50.85; at per_user 20.00: 60.00 + 7.80 = $67.80; at 10.00: 30.00 + 3.90 = $33.90.
B with 2 users: 30.00 + 3.90 = $33.90.
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Repo

from otb_billing.core.month import Month
from otb_billing.jobs.watch import WatchSession, _changed_accounts
from otb_billing.jobs.watch_events import relevant
from otb_billing.journal import repo_lock

MONTH = "2024-10"
LEDGER = f"ledger/invoices/2024/{MONTH}.beancount"


def make_repo(root: Path) -> Repo:
    repo = Repo(root)
    repo.client("A", name="Alpha Co")
    repo.client("B", name="Beta Co")
    rows = [f"A,a{i},User {i},a{i}@x.example,true" for i in range(3)]
    rows += [f"B,b{i},User {i},b{i}@x.example,true" for i in range(2)]
    repo.csv(MONTH, "users.csv", "account,user_id,name,email,active", *rows)
    return repo


class Watcher:
    """`otb watch` in a subprocess; its output read line by line."""

    def __init__(self, root: Path, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "otb_billing", "watch", MONTH, "--root", str(root), "--debounce", "0.15",
             *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        """The first line from now on that matches `pattern`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.lines))

    def quiet(self, seconds: float) -> list[str]:
        """The lines printed in the next `seconds`."""
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got.append(self._queue.get(timeout=0.05))
            except queue.Empty:
                pass
        self.lines += got
        return got

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        time.sleep(0.1)
        self.lines += [self._queue.get() for _ in range(self._queue.qsize())]
        return code


@pytest.fixture
def watched(tmp_path):
    repo = make_repo(tmp_path)
    watcher = Watcher(tmp_path)
    watcher.wait_for(r"client\(s\) billed")
    yield repo, watcher
    if watcher.process.poll() is None:
        watcher.process.kill()


def client_text(rate: str) -> str:
    return (f'account: "A"\nname: Alpha Co\nprovince: ON\nplan: Gold MSP Plan\nterm: "1 Year"\n'
            f"rates: {{per_user: {rate}}}\n")


def lock_is_free(root: Path) -> bool:
    with open(root / ".otb.lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_watch_follows_saves_and_leaves_what_otb_bill_would_write(watched):
    repo, w = watched
    root = repo.root
    assert "  Alpha Co (A, A-202410): new draft $50.85" in w.lines
    assert "  Beta Co (B, B-202410): new draft $33.90" in w.lines
    beta_block = (root / LEDGER).read_text().split("B-202410")[1]

    # written in place
    with open(root / "clients/A.yaml", "w") as handle:
        handle.write(client_text("20.00"))
    assert w.wait_for(r"Alpha Co") == "  Alpha Co (A, A-202410): $50.85 -> $67.80 (+$16.95)"
    assert re.fullmatch(
        r"  1 client\(s\) billed, 1 draft\(s\) changed, \d+ file\(s\) written in \d+ ms",
        w.wait_for(r"client\(s\) billed"),
    )
    assert "67.80" in (root / LEDGER).read_text()
    assert (root / LEDGER).read_text().split("B-202410")[1] == beta_block  # B was not billed again

    # an editor's atomic save: a hidden temp file renamed over the original
    temp = root / "clients/.A.yaml.tmp1234"
    temp.write_text(client_text("10.00"))
    os.replace(temp, root / "clients/A.yaml")
    assert w.wait_for(r"Alpha Co") == "  Alpha Co (A, A-202410): $67.80 -> $33.90 (-$33.90)"

    # broken mid-edit: the error with file:line, nothing written; fixed: billed again
    before = (root / LEDGER).read_bytes()
    (root / "clients/A.yaml").write_text(client_text("10.00") + "notes: [unclosed\n")
    assert w.wait_for(r"YAML syntax error").startswith("  clients/A.yaml:8: YAML syntax error")
    w.wait_for(r"nothing written; the last good drafts stay")
    assert (root / LEDGER).read_bytes() == before
    (root / "clients/A.yaml").write_text(client_text("20.00"))
    assert w.wait_for(r"Alpha Co") == "  Alpha Co (A, A-202410): $33.90 -> $67.80 (+$33.90)"

    # delete, then create again
    text = (root / "clients/B.yaml").read_text()
    (root / "clients/B.yaml").unlink()
    assert w.wait_for(r"Beta Co") == "  Beta Co (B, B-202410): draft of $33.90 removed"
    assert "B-202410" not in (root / LEDGER).read_text()
    (root / "clients/B.yaml").write_text(text)
    assert w.wait_for(r"Beta Co") == "  Beta Co (B, B-202410): new draft $33.90"

    # swap, backup and temp files of editors are not saves
    w.quiet(0.3)
    for name in (".A.yaml.swp", "4913", "A.yaml~", "#A.yaml#"):
        (root / "clients" / name).write_text("junk: [")
    (root / "notes.txt").write_text("not an input")
    assert not [line for line in w.quiet(1.0) if line.startswith("[")]

    # a burst of saves (a script rewriting the users export 10 times) is billed once it settles
    saved = []
    for extra in range(1, 11):
        rows = [f"A,a{i},User {i},a{i}@x.example,true" for i in range(3 + extra)]
        repo.csv(
            MONTH,
            "users.csv",
            "account,user_id,name,email,active",
            *rows,
            "B,b0,User 0,b0@x.example,true",
            "B,b1,User 1,b1@x.example,true",
        )
        saved.append(time.monotonic())
    w.wait_for(r"-> \$293\.80")  # 13 users at 20.00 = 260.00 + 33.80 HST
    refreshes = [line for line in w.lines if "exports/2024-10/users.csv" in line]
    # a pause of the debounce or more between two saves (this process descheduled on a loaded machine) is a
    # settled burst of its own, and may be billed as such
    pauses = sum(1 for before, after in zip(saved, saved[1:], strict=False) if after - before >= 0.15)
    assert 1 <= len(refreshes) <= 3 + pauses, (refreshes, pauses)

    # a concurrent otb bill is refused by the lock, naming the watch
    refused = subprocess.run(
        [sys.executable, "-m", "otb_billing", "bill", MONTH, "--root", str(root)], capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert f"otb watch {MONTH} (pid {w.process.pid}) is working on" in refused.stderr

    # Ctrl-C: clean exit, no temp file, no lock held
    assert w.stop() == 0
    assert w.lines[-1].startswith("Stopped.")
    leftovers = [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part")) or "txn" in p.parts]
    leftovers = [p for p in leftovers if p.parent.name != "clients"]  # the editor junk written above
    assert leftovers == []
    assert lock_is_free(root) and (root / ".otb.lock").read_text() == ""

    # what watch left is exactly what a full `otb bill` writes, and it passes the whole-ledger check
    ledger = (root / LEDGER).read_bytes()
    build = {p.name: p.read_bytes() for p in (root / "build" / MONTH).iterdir()}
    assert repo.run("check", MONTH).exit_code == 0
    assert repo.run("bill", MONTH, "--no-pdf").exit_code == 0
    assert (root / LEDGER).read_bytes() == ledger
    assert {p.name: p.read_bytes() for p in (root / "build" / MONTH).iterdir()} == build


def test_a_finalized_month_is_never_rewritten(tmp_path):
    repo = make_repo(tmp_path)
    assert repo.run("bill", MONTH, "--no-pdf").exit_code == 0
    assert repo.run("finalize", MONTH, "--at", "2024-11-01T13:00:00Z").exit_code == 0
    before = (tmp_path / LEDGER).read_bytes()
    w = Watcher(tmp_path)
    try:
        w.wait_for(r"client\(s\) billed")
        # a price change does not touch it (it is billed at the prices it was issued at); a fourth user does
        (tmp_path / "clients/A.yaml").write_text(client_text("20.00"))
        w.wait_for(r"client\(s\) billed, 0 draft\(s\) changed")
        repo.csv(
            MONTH,
            "users.csv",
            "account,user_id,name,email,active",
            *[f"A,a{i},User {i},a{i}@x.example,true" for i in range(4)],
            *[f"B,b{i},User {i},b{i}@x.example,true" for i in range(2)],
        )
        warning = w.wait_for(r"warning: .*A-202410")
        assert "A-202410 is finalized with total 50.85; the inputs now give 67.80" in warning  # 4 x 15.00
        assert "It was not changed" in warning
        w.wait_for(r"client\(s\) billed, 0 draft\(s\) changed")
        assert (tmp_path / LEDGER).read_bytes() == before
    finally:
        assert w.stop() == 0


def test_polling_sees_a_save_too(tmp_path):
    make_repo(tmp_path)
    w = Watcher(tmp_path, "--poll")
    try:
        w.wait_for(r"client\(s\) billed")
        (tmp_path / "clients/A.yaml").write_text(client_text("20.00"))
        assert w.wait_for(r"Alpha Co") == "  Alpha Co (A, A-202410): $50.85 -> $67.80 (+$16.95)"
    finally:
        assert w.stop() == 0


def test_a_watch_refuses_a_ledger_that_fails_bean_check(tmp_path):
    repo = make_repo(tmp_path)
    assert repo.run("bill", MONTH, "--no-pdf").exit_code == 0
    path = tmp_path / LEDGER
    path.write_text(path.read_text().replace("Income:", "Incme:", 1))
    w = Watcher(tmp_path)
    assert w.process.wait(timeout=60) == 1
    w.quiet(0.2)
    assert any("the ledger must pass bean-check" in line for line in w.lines)
    assert lock_is_free(tmp_path)


# --- whom a save bills again (in-process, no events needed) -----------------------------------------------------


def session(repo: Repo) -> WatchSession:
    s = WatchSession(repo.root, Month(2024, 10))
    s.start()
    return s


def test_each_kind_of_file_bills_only_whom_it_affects(tmp_path):
    repo = make_repo(tmp_path)
    repo.write("plans/silver.yaml", "name: Silver\nsupport_level: hourly\nterms: {Monthly: {per_user: 9.00}}\n")
    repo.write("clients/C.yaml", 'account: "C"\nname: Gamma Co\nprovince: ON\nplan: Silver\nterm: Monthly\n')
    users = (tmp_path / f"exports/{MONTH}/users.csv").read_text()
    (tmp_path / f"exports/{MONTH}/users.csv").write_text(users + "C,c0,User 0,c0@x.example,true\n")
    with repo_lock(tmp_path):
        s = session(repo)
        assert s.refresh(["clients/A.yaml"]).billed == 1
        repo.write("plans/silver.yaml", "name: Silver\nsupport_level: hourly\nterms: {Monthly: {per_user: 11.00}}\n")
        refresh = s.refresh(["plans/silver.yaml"])
        assert refresh.billed == 1
        assert [(c.account, c.old, c.new) for c in refresh.changes] == [("C", Decimal("10.17"), Decimal("12.43"))]
        # an export: only the accounts whose rows changed (B gains a user; A's rows move down a line, unchanged)
        repo.csv(
            MONTH,
            "users.csv",
            "account,user_id,name,email,active",
            "B,b9,New,b9@x.example,true",
            *[f"A,a{i},User {i},a{i}@x.example,true" for i in range(3)],
            *[f"B,b{i},User {i},b{i}@x.example,true" for i in range(2)],
            "C,c0,User 0,c0@x.example,true",
        )
        refresh = s.refresh([f"exports/{MONTH}/users.csv"])
        assert refresh.billed == 1
        assert [(c.account, c.old, c.new) for c in refresh.changes] == [("B", Decimal("33.90"), Decimal("50.85"))]
        assert s.refresh(["settings.yaml"]).billed == 3
        assert s.refresh(["templates/invoice.html.j2"]).billed == 3


def test_changed_accounts_ignores_line_numbers():
    from otb_billing.core.model import UserRow

    def row(account, user, line):
        return UserRow(account, user, "", "", True, "users.csv", line)

    old = [row("A", "a1", 2), row("B", "b1", 3)]
    new = [row("X", "x1", 2), row("A", "a1", 3), row("B", "b1", 4), row("B", "b2", 5)]
    assert _changed_accounts(old, new) == {"X", "B"}


@pytest.mark.parametrize(
    "path, counts",
    [
        ("clients/620547-acme.yaml", True),
        ("clients/.620547-acme.yaml.swp", False),
        ("clients/4913", False),
        ("clients/620547-acme.yaml~", False),
        ("clients/#620547-acme.yaml#", False),
        ("clients/.#acme.yaml", False),
        ("clients/sub/x.yaml", False),
        ("plans/gold.yaml", True),
        ("settings.yaml", True),
        ("services.yaml", True),
        ("notes.txt", False),
        ("exports/2024-10/users.csv", True),
        ("exports/2024-09/users.csv", False),
        ("exports/2024-10/.~lock.users.csv#", False),
        ("exports/2024-10/users.csv.part", False),
        ("templates/email/fr/invoice.txt.j2", True),
        ("ledger/main.beancount", False),
        ("build/2024-10/x.csv", False),
        (".git/index", False),
    ],
)
def test_which_files_count_as_saves(path, counts):
    assert relevant(path, Month(2024, 10)) is counts
