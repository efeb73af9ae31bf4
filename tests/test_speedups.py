"""The shortcuts that make a rebill fast must never change an answer: the YAML and ledger files kept between runs
(filecache.persisted) and the Beancount check run in a forked child (forked.beside)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import marshal
import os
import pickle
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest

from otb_billing import filecache, forked
from otb_billing.core.errors import InputErrors, Problem, Source
from otb_billing.filecache import CACHE_FILE

USERS = "account,user_id,name,email,active"
LONG_AGO = time.time() - 3600


def _age(path) -> None:
    """Give a file an old mtime, so it is no longer 'racy' and the cache keeps it between runs."""
    os.utime(path, (LONG_AGO, LONG_AGO))


def _stored(repo) -> dict:
    """The entries of the pickled cache files (the clients', and the other months' invoices' if any)."""
    entries = {}
    for name in filecache.PICKLED_FILES:
        if name == CACHE_FILE or (repo.root / name).exists():
            with open(repo.root / name, "rb") as handle:
                pickle.load(handle)  # the code version
                entries.update(pickle.load(handle))
    return entries


@pytest.fixture
def cached_repo(repo):
    path = repo.client("A1", name="Alpha", extra="users: {u1: {type: custom, rate: 20.00}}\n")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true")
    for file in [path, *repo.root.glob("*.yaml"), *repo.root.glob("plans/*.yaml")]:
        _age(file)
    assert repo.invoice()["subtotal"] == "35.00"  # 20.00 (custom) + 15.00
    return repo, path


def test_unchanged_files_are_kept_between_runs_and_edits_are_read_again(cached_repo):
    repo, path = cached_repo
    kinds = {kind for kind, _ in _stored(repo)}
    assert {"yaml", "client"} <= kinds
    # same size, same mtime: only the ctime (which no program can set back) tells the new file from the old
    path.write_text(path.read_text().replace("20.00", "30.00"))
    _age(path)
    assert repo.invoice()["subtotal"] == "45.00"


def test_a_file_saved_in_the_last_seconds_is_not_kept(cached_repo):
    repo, path = cached_repo
    path.write_text(path.read_text().replace("20.00", "25.00"))  # mtime: now
    assert repo.invoice()["subtotal"] == "40.00"
    assert ("yaml", str(path)) not in _stored(repo) and ("client", str(path)) not in _stored(repo)


def test_a_damaged_or_foreign_cache_is_ignored(cached_repo, monkeypatch):
    repo, _ = cached_repo
    (repo.root / CACHE_FILE).write_bytes(b"not a pickle")
    assert repo.invoice()["subtotal"] == "35.00"
    stale = {key: (stat, depends, "a value from other code", problems)
             for key, (stat, depends, _, problems) in _stored(repo).items()}
    (repo.root / CACHE_FILE).write_bytes(pickle.dumps(("another version of otb", stale)))
    assert repo.invoice()["subtotal"] == "35.00"


def test_problems_found_in_a_kept_file_are_reported_again(repo):
    path = repo.client("A1", extra="users: {u1: {type: custom, rate: lots}}\n")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    _age(path)
    for _ in range(2):
        result = repo.run("bill", "2024-10")
        assert result.exit_code != 0
        assert "clients/A1.yaml:6" in result.output and "rate" in result.output
    assert ("client", str(path)) in _stored(repo)


def test_earlier_months_are_read_from_the_cache_until_they_change(repo):
    path = repo.client("A1", extra="prepaid_hours: {yearly: 10}\n")
    repo.csv("2024-09", "tickets.csv", "account,ticket,date,hours", "A1,T1,2024-09-10,4")
    repo.csv("2024-10", "tickets.csv", "account,ticket,date,hours", "A1,T2,2024-10-10,4")
    _age(path)
    assert repo.run("bill", "2024-09").exit_code == 0
    september = repo.root / "ledger/invoices/2024/2024-09.beancount"
    _age(september)
    first = repo.invoice("2024-10")
    assert ("priors", str(september)) in _stored(repo)
    assert repo.invoice("2024-10") == first
    # September billed again with fewer hours: October's pool sees it, though the file was cached
    repo.csv("2024-09", "tickets.csv", "account,ticket,date,hours", "A1,T1,2024-09-10,9")
    assert repo.run("bill", "2024-09").exit_code == 0
    assert repo.invoice("2024-10") != first


def test_a_check_in_the_child_gives_its_answer_and_the_parent_did_its_work():
    parent, done = os.getpid(), []
    assert forked.beside(lambda: ("checked by", os.getpid() != parent), lambda: done.append(os.getpid())) == (
        "checked by", True)
    assert done == [parent]


def test_what_the_child_raised_is_raised_here_with_its_problems():
    problem = Problem(Source("ledger/main.beancount", 3), "bean-check: something", "a fix")

    def work():
        raise InputErrors([problem])

    with pytest.raises(InputErrors) as caught:
        forked.beside(work, lambda: None)
    assert caught.value.problems == [problem]


def test_a_child_that_dies_is_replaced_by_doing_the_work_here():
    parent = os.getpid()

    def work():
        if os.getpid() != parent:
            os._exit(3)  # as if killed
        return "done here"

    assert forked.beside(work, lambda: None) == "done here"


def test_when_the_work_here_fails_the_child_is_stopped():
    def meanwhile():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        forked.beside(lambda: time.sleep(30), meanwhile)  # would hang the test if the child were waited for


def test_a_standby_child_is_forked_when_made_and_works_beside_this_process_later():
    """otb bill forks its check child at the start, while small (forked.Standby): the child must not see what this
    process did after making it, and must do the work while this process does its own."""
    parent, later, done = os.getpid(), [], []
    standby = forked.Standby(lambda arg, ready: (arg, os.getpid() != parent, len(later), ready),
                             prepare=lambda: ("prepared by the child", os.getpid() != parent, time.monotonic()))
    later.append("billed")  # after the fork: the child's copy of `later` stays empty
    sent = time.monotonic()
    time.sleep(0.2)
    arg, in_child, seen, (said, prepared_in_child, prepared_at) = standby.beside(
        {"ledger/main.beancount": "staged"}, lambda: done.append(os.getpid()))
    assert (arg, in_child, seen) == ({"ledger/main.beancount": "staged"}, True, 0)
    assert done == [parent]
    assert said == "prepared by the child" and prepared_in_child
    assert prepared_at < sent + 0.2  # before it was handed `arg`: while this process went on


def test_a_standby_child_lost_or_not_needed_leaves_the_work_here_or_nothing_behind(monkeypatch):
    parent = os.getpid()
    lost = forked.Standby(lambda arg, ready: os._exit(3) if os.getpid() != parent else ("here", arg, ready))
    assert lost.beside(1, lambda: None) == ("here", 1, None)
    unused = forked.Standby(lambda arg, ready: arg)
    pid = unused._stream.pid
    unused.cancel()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    failing = forked.Standby(lambda arg, ready: time.sleep(30))
    pid = failing._stream.pid
    with pytest.raises(OSError, match="No space"):  # would hang the test if the child were waited for
        failing.beside(1, lambda: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    monkeypatch.setattr(forked, "memory_to_spare", lambda: False)
    order: list[str] = []
    crowded = forked.Standby(lambda arg, ready: (order.append("check"), os.getpid() == parent)[1])
    assert crowded.beside(1, lambda: order.append("render")) is True
    assert order == ["render", "check"]


def test_a_stream_child_consumes_what_is_sent_far_more_than_a_pipe_holds_without_the_sender_waiting():
    parent = os.getpid()

    def consume(items):
        time.sleep(0.5)  # busy elsewhere: the sender must not wait for it
        first = None
        total = 0
        for item in items:
            first = first or time.monotonic()  # the same clock in both processes (Linux CLOCK_MONOTONIC)
            total += len(item)
        return os.getpid() != parent, total, first

    stream = forked.Stream(consume)
    for _ in range(40):  # 40 x 200 kB: 8 MB through a pipe of at most 1 MB
        stream.send(bytes(200_000))
    sends_done = time.monotonic()
    in_child, total, first_read = stream.finish()
    assert (in_child, total) == (True, 40 * 200_000)
    assert sends_done < first_read  # every send returned before the child read anything


def test_a_stream_child_that_dies_is_replaced_by_consuming_everything_here():
    parent = os.getpid()

    def consume(items):
        items = list(items)
        if os.getpid() != parent:
            os._exit(3)  # as if killed
        return ("here", items)

    stream = forked.Stream(consume)
    stream.send(["a", 1])
    stream.send(b"b")
    assert stream.finish() == ("here", [["a", 1], b"b"])


def test_what_a_stream_child_raised_is_raised_here_and_cancel_stops_a_busy_one():
    def consume(items):
        for item in items:
            if item == "bad":
                raise OSError(28, "No space left on device")

    stream = forked.Stream(consume)
    stream.send("good")
    stream.send("bad")
    with pytest.raises(OSError, match="No space left"):
        stream.finish()
    busy = forked.Stream(lambda items: time.sleep(30))
    busy.send("x")
    started = time.monotonic()
    busy.cancel()  # would hang the test if the child were waited for
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(busy.pid, 0)


def test_a_bill_the_check_refuses_writes_nothing(repo, monkeypatch):
    from otb_billing.books import verify

    repo.client("A1")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    monkeypatch.setattr(verify, "check_change", lambda root, staged, *_, **__: [Problem(Source("ledger/x"), "refused")])
    before = repo.snapshot()
    result = repo.run("bill", "2024-10")
    assert result.exit_code != 0 and "refused" in result.output
    assert repo.snapshot() == before


def testcode_version_changes_with_the_code(tmp_path, monkeypatch):
    first = filecache.code_version()
    assert filecache.code_version() == first
    module = tmp_path / "otb_billing" / "filecache.py"
    module.parent.mkdir()
    module.write_text("")
    monkeypatch.setattr(filecache, "__file__", str(module))
    assert filecache.code_version() != first


# --- the records reports keep between runs (books/records_cache.py) -------------------------------------------


def _report(root, *args):
    from conftest import run

    result = run(root, *args)
    assert result.exit_code == 0, result.output
    return result.output


REPORTS = [("status", "--as-of", "2024-12-31"), ("status", "--as-of", "2024-12-31", "--json"),
           ("aging", "--as-of", "2024-12-31"), ("statement", "620547", "--to", "2024-12-31", "--json")]


def test_reports_from_kept_records_equal_reports_from_a_full_load(example):
    from otb_billing.books import records_cache

    assert not (example / records_cache.CACHE_FILE).exists()
    first = [_report(example, *args) for args in REPORTS]  # the first loads the ledger and keeps its records
    assert (example / records_cache.CACHE_FILE).exists()
    assert records_cache.load(example) is not None
    assert [_report(example, *args) for args in REPORTS] == first


def test_status_and_aging_after_the_last_record_come_from_the_stored_book(example, monkeypatch):
    """On or after the ledger's last record, status and aging take the amounts settled by the last full load and
    never read the payments back; before it they derive, from the records. Either way the same text as a full
    load (the random books test compares the two on 500 operations' ledgers)."""
    from otb_billing.books import records_cache

    days = ("2024-10-15", "2024-10-31", "2025-06-30")  # before, on, and after the last record (2024-10-31)
    first = {day: [_report(example, cmd, "--as-of", day, *flag) for cmd in ("status", "aging") for flag in ((),
             ("--json",))] for day in days}
    rest_read = []
    real = records_cache._unpack_rest
    monkeypatch.setattr(records_cache, "_unpack_rest", lambda *a: rest_read.append(1) or real(*a))
    for day in days:
        rest_read.clear()
        again = [_report(example, cmd, "--as-of", day, *flag) for cmd in ("status", "aging") for flag in ((),
                 ("--json",))]
        assert again == first[day]
        assert bool(rest_read) == (day < "2024-10-31"), day
    assert records_cache.book(example, dt.date(2024, 10, 30)) is None
    book, names = records_cache.book(example, dt.date(2024, 10, 31))
    assert book.as_of == dt.date(2024, 10, 31) and names["620547"]


def test_a_change_by_hand_means_a_full_load_and_an_otb_change_keeps_the_records_of_the_ledger_it_checked(example):
    """The records are kept for exactly the ledger's files. An edit by hand means a full load again; a change by
    otb (here `otb pay`) was checked by a load of the ledger as it is now, whose records are kept: the same as a
    full load of the new ledger gives."""
    from otb_billing.books import records_cache
    from otb_billing.books.extract import load_books

    before = _report(example, "status", "--as-of", "2024-12-31", "--json")
    assert records_cache.load(example) is not None
    accounts = example / "ledger" / "accounts.beancount"
    accounts.write_text(accounts.read_text() + "\n; a note by hand\n")
    assert records_cache.load(example) is None  # a ledger file changed: the kept records are not used
    assert _report(example, "status", "--as-of", "2024-12-31", "--json") == before
    assert records_cache.load(example) is not None  # kept again by that full load
    _report(example, "pay", "620547", "100.00", "--date", "2024-12-01", "--ref", "CHQ-1")
    kept, full = records_cache.load(example), load_books(example / "ledger")
    assert kept is not None and not full.problems
    assert (kept.docs, kept.payments, kept.credits, kept.applications, kept.names) == (
        full.docs, full.payments, full.credits, full.applications, full.names)
    assert any(p.ref == "CHQ-1" for p in kept.payments)
    after = _report(example, "status", "--as-of", "2024-12-31", "--json")
    assert after != before


def test_damaged_kept_records_are_ignored(example):
    from otb_billing.books import records_cache

    before = _report(example, "aging", "--as-of", "2024-12-31")
    path = example / records_cache.CACHE_FILE
    path.write_bytes(path.read_bytes()[:1000])
    assert records_cache.load(example) is None
    assert _report(example, "aging", "--as-of", "2024-12-31") == before


@pytest.mark.parametrize("kind", ["beside", "stream"])
def test_the_child_dies_with_its_parent(tmp_path, kind):
    """A parent killed (-9) while its child checks (beside) or writes build/ files (Stream) must not leave the
    child holding the repo's lock."""
    import subprocess
    import sys
    import textwrap

    marker = tmp_path / "child.pid"
    start = ("forked.beside(work, lambda: time.sleep(60))" if kind == "beside" else
             "stream = forked.Stream(lambda items: work()); stream.send(1); time.sleep(60)")
    script = textwrap.dedent(f"""
        import os, time
        from otb_billing import forked
        def work():
            open({str(marker)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
        {start}
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    for _ in range(100):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.05)
    child = int(marker.read_text())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            state = Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":  # dead, not yet reaped by whoever adopted it
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        raise AssertionError("the child outlived its parent")


def test_a_big_ledger_is_announced_before_the_full_load_only(example, monkeypatch):
    from otb_billing.jobs import reports

    monkeypatch.setattr(reports, "BIG_LEDGER", 0)  # the example ledger counts as big
    first = _report(example, "aging", "--as-of", "2024-12-31")
    assert "Loading the whole ledger" in first
    again = _report(example, "aging", "--as-of", "2024-12-31")
    assert "Loading the whole ledger" not in again
    assert first.split("...\n", 1)[1] == again


# --- export rows kept between runs as plain tuples (readers/exports.py codec) ----------------------------------


def test_export_rows_come_back_from_the_cache_exactly_as_read(tmp_path):
    import datetime as dt
    from decimal import Decimal

    from otb_billing.core.month import Month
    from otb_billing.readers import exports

    root = tmp_path / "repo"
    folder = root / "exports" / "2024-11"
    folder.mkdir(parents=True)
    (folder / "users.csv").write_text("account,user_id,name,email,active\nA1,u1,Ann,a@x,true\nA1,u2,Bo,,no\n")
    (folder / "assets.csv").write_text("account,asset_id,hostname,type,backup_tb\nA1,d1,PC,laptop,0.125\n"
                                       "A1,d2,SRV,server,\n")
    # the night the clocks go back in Toronto: 01:30 happens twice; and a time with microseconds
    (folder / "tickets.csv").write_text("account,ticket,date,hours\nA1,T1,2024-11-03T01:30:00-04:00,1.5\n"
                                        "A1,T2,2024-11-03T01:30:00-05:00,0.25\nA1,T3,2024-11-04T09:15:00.123456,2\n")
    (folder / "usage.csv").write_text("account,service,quantity,description\nA1,RPC,1234.5,calls\n")
    for path in folder.iterdir():
        _age(path)
    first, problems = exports.read_exports(root, Month(2024, 11), "America/Toronto")
    assert problems == []
    with filecache.persisted(root):
        exports.read_exports(root, Month(2024, 11), "America/Toronto")  # read, then kept
    assert (root / filecache.PACKED_FILE).exists()
    with filecache.persisted(root) as cache:
        again, problems = exports.read_exports(root, Month(2024, 11), "America/Toronto")
        assert cache.hits == 4 and cache.misses == 0
    assert problems == []
    assert again == first
    for old, new in zip(first.tickets, again.tickets, strict=True):
        assert new.when.utcoffset() == old.when.utcoffset() and new.when.fold == old.when.fold
        assert new.when.tzinfo == old.when.tzinfo
    assert again.tickets[2].when.microsecond == 123456
    assert again.assets[0].backup_tb == Decimal("0.125") and str(again.assets[0].backup_tb) == "0.125"
    assert again.tickets[0].when.astimezone(dt.UTC) != again.tickets[1].when.astimezone(dt.UTC)


def test_a_changed_export_is_read_again_and_bad_rows_are_reported_every_run(repo):
    repo.client("A1")
    path = repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,maybe")
    _age(path)
    for _ in range(2):  # the second run takes the rows, and the problem, from the cache
        result = repo.run("bill", "2024-10")
        assert result.exit_code != 0 and "exports/2024-10/users.csv:3" in result.output
    path.write_text(path.read_text().replace("maybe", "true "))
    _age(path)
    assert repo.invoice()["counts"]["users"] == 2


def test_a_damaged_packed_entry_is_read_from_the_file_instead(repo):
    repo.client("A1")
    path = repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    _age(path)
    assert repo.run("bill", "2024-10").exit_code == 0
    import marshal

    packed_file = repo.root / filecache.PACKED_FILE
    frames = list(filecache._frames(packed_file.read_bytes(), filecache.code_version()))
    assert len(frames) == 1
    meta, _, _ = frames[0]
    with open(packed_file, "wb") as out:
        for frame in (filecache.code_version(), meta, ("x", "NoSuchRow", [(1, 2)])):
            filecache._frame(out, marshal.dumps(frame))
    assert repo.invoice()["counts"]["users"] == 1


def test_a_stream_that_keeps_nothing_says_its_child_was_lost():
    parent = os.getpid()

    def consume(items):
        for _ in items:
            if os.getpid() != parent:
                os._exit(9)  # as if killed
        return "never"

    stream = forked.Stream(consume, keep=False)
    stream.send(b"x" * 1000)
    with pytest.raises(forked.ChildLost, match="stopped"):
        stream.finish()


def test_the_ledger_check_never_pickles_beancounts_cache_into_the_shadow_folder(repo, monkeypatch):
    """Beancount pickles any load over a second next to the file; the check's shadow folder is deleted right after,
    so that was pure cost (2.4 s of 10 s at 10,000 clients)."""
    from beancount import loader

    from otb_billing.books import verify

    repo.client("A1")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    dumped = []
    monkeypatch.setattr(loader.pickle, "dump", lambda *a, **k: dumped.append(a[1]))
    monkeypatch.setattr(loader, "PICKLE_CACHE_THRESHOLD", 0.0)
    loader.initialize(True)  # every load is now worth caching, for the loader
    try:
        loader.load_file(str(repo.root / "ledger" / "main.beancount"))
        assert dumped, "the spy must see the loader's own cache"
        dumped.clear()
        staged = {"ledger/main.beancount": repo.root / "ledger" / "main.beancount"}
        assert verify.check_change(repo.root, staged) == []
        assert dumped == []
    finally:
        monkeypatch.undo()
        loader.initialize(True)
        (repo.root / "ledger" / ".main.beancount.picklecache").unlink(missing_ok=True)


def test_without_memory_to_spare_the_check_runs_here_after_the_rendering(monkeypatch):
    parent, order = os.getpid(), []
    monkeypatch.setattr(forked, "memory_to_spare", lambda: False)
    assert forked.beside(lambda: (order.append("check"), os.getpid() == parent)[1],
                         lambda: order.append("render")) is True
    assert order == ["render", "check"]


def test_memory_to_spare_compares_what_the_machine_or_its_container_has_free_with_this_process(monkeypatch):
    import builtins

    real_open = builtins.open

    def fake(available_kb: int, resident_kb: int, cgroup: tuple[str, str] | None = None):
        def opener(path, *args, **kwargs):
            if path == "/proc/meminfo":
                return io.StringIO(f"MemTotal: 999999 kB\nMemAvailable: {available_kb} kB\n")
            if path == "/proc/self/status":
                return io.StringIO(f"Name: otb\nVmRSS: {resident_kb} kB\n")
            if path in (forked.CGROUP_FILES[0][0], forked.CGROUP_FILES[0][1]) and cgroup is not None:
                return io.StringIO(cgroup[0] if path.endswith("memory.max") else cgroup[1])
            if path.startswith("/sys/fs/cgroup"):
                raise FileNotFoundError(path)
            return real_open(path, *args, **kwargs)
        return opener

    monkeypatch.setattr(builtins, "open", fake(1_000_000, 400_000))
    assert forked.memory_to_spare() is True
    monkeypatch.setattr(builtins, "open", fake(700_000, 400_000))
    assert forked.memory_to_spare() is False
    # a container limited to 1 GiB with 500 MiB used, on a host with plenty free
    monkeypatch.setattr(builtins, "open", fake(20_000_000, 400_000, (str(1 << 30), str(500 << 20))))
    assert forked.memory_to_spare() is False
    monkeypatch.setattr(builtins, "open", fake(20_000_000, 400_000, ("max\n", str(500 << 20))))
    assert forked.memory_to_spare() is True
    monkeypatch.setattr(builtins, "open", fake(20_000_000, 100_000, (str(1 << 30), str(500 << 20))))
    assert forked.memory_to_spare() is True


@pytest.fixture
def new_exports(repo):
    """A repo whose month's exports have never been read (and are old enough to be kept), with a bad row."""
    repo.client("A1")
    repo.client("B2")
    for path in (repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "B2,u3,Three,,maybe"),
                 repo.csv("2024-10", "tickets.csv", "account,ticket,date,hours", "B2,T1,2024-10-03,1.25")):
        _age(path)
    return repo


def _parsed_here(monkeypatch) -> list[str]:
    """The export files this process parses from now on (a forked child's parsing is not seen here)."""
    from otb_billing.readers import exports

    parsed: list[str] = []
    real = exports._read_file
    monkeypatch.setattr(exports, "_read_file", lambda path, *rest: parsed.append(path.name) or real(path, *rest))
    return parsed


def _parsed_yaml_here(monkeypatch) -> list[str]:
    """The client files this process parses from now on (a forked child's parsing is not seen here)."""
    from otb_billing.readers import clients

    parsed: list[str] = []
    real = clients._read_client_file
    monkeypatch.setattr(clients, "_read_client_file", lambda path, *rest: parsed.append(path.name) or real(path, *rest))
    return parsed


def _parses_anywhere(monkeypatch, log: Path, module=None, name: str = "_read_client_file"):
    """The files `module.name(path, ...)` parses from now on (by default the client files), here or in a forked
    child: (pid, file name) in the order parsed."""
    from otb_billing.readers import clients

    module = module or clients
    real = getattr(module, name)

    def parse(path, *rest):
        with open(log, "a") as out:
            out.write(f"{os.getpid()} {path.name}\n")
        return real(path, *rest)

    monkeypatch.setattr(module, name, parse)
    return lambda: [(int(pid), file) for pid, file in (line.split() for line in log.read_text().splitlines())]


def test_the_client_files_are_shared_out_between_the_child_and_this_process_once_it_has_read_the_csvs(
        new_exports, monkeypatch):
    """pipeline._Shares: whichever process is free takes the next 25 files; none is read twice or left out."""
    from otb_billing.readers import clients

    for n in range(3, 70):
        new_exports.client(f"C{n:02d}", name=f"Client {n}")
    parses = _parses_anywhere(monkeypatch, new_exports.root.parent / "parses.log")
    real = clients._read_client_file
    monkeypatch.setattr(clients, "_read_client_file", lambda path, *rest: (time.sleep(0.02), real(path, *rest))[1])
    first = new_exports.run("bill", "2024-10").output
    by = {}
    for pid, name in parses():
        by.setdefault(pid, []).append(name)
    names = sorted(name for files in by.values() for name in files)
    assert names == sorted(path.name for path in (new_exports.root / "clients").glob("*.yaml"))  # each once
    assert len(by) == 2 and os.getpid() in by  # here too: the child was still on its first share (0.5 s)
    forked.join_background()
    for path in (new_exports.root / ".otb").rglob("*"):
        if path.is_file():
            path.unlink()
    monkeypatch.setattr(forked, "beside", lambda work, meanwhile: (meanwhile(), work())[1])  # no child
    assert new_exports.run("bill", "2024-10").output == first  # the same bill, every file read here


def test_new_client_files_are_read_by_a_child_while_this_process_reads_the_exports(new_exports, monkeypatch):
    for path in new_exports.root.rglob("*.yaml"):
        _age(path)  # old enough to be kept between runs
    csv_here = _parsed_here(monkeypatch)
    parses = _parses_anywhere(monkeypatch, new_exports.root.parent / "parses.log")
    result = new_exports.run("bill", "2024-10")
    # the bad row is reported; the CSVs were read here, the client files by the child (it starts on them at once,
    # this process on the CSVs: the files are handed out in shares of 25), each once
    assert result.exit_code != 0 and "exports/2024-10/users.csv:4" in result.output
    assert sorted(csv_here) == ["tickets.csv", "users.csv"]
    assert [name for pid, name in parses()] == ["A1.yaml", "B2.yaml"] and parses()[0][0] != os.getpid()
    yaml_here = _parsed_yaml_here(monkeypatch)
    forked.join_background()  # what was read, stored by the child forked for it
    (new_exports.root / "exports/2024-10/users.csv").write_text(f"{USERS}\nA1,u1,One,,true\nA1,u2,Two,,true\n"
                                                                 "B2,u3,Three,,true\n")
    _age(new_exports.root / "exports/2024-10/users.csv")
    csv_here.clear()
    forks: list[str] = []
    real_beside = forked.beside
    monkeypatch.setattr(forked, "beside", lambda work, meanwhile: forks.append(work.__name__) or real_beside(
        work, meanwhile))
    assert new_exports.invoice(account="B2")["counts"]["users"] == 1
    # the client files are kept as they were: no child for them; users.csv read again here, tickets.csv kept
    assert forks == [] and yaml_here == [] and csv_here == ["users.csv"]
    forked.join_background()
    frames = list(filecache._frames((new_exports.root / filecache.PACKED_FILE).read_bytes(),
                                    filecache.code_version()))
    assert sorted(Path(meta[1]).name for meta, *_ in frames) == ["tickets.csv", "users.csv"]  # kept for next time


def test_no_child_reads_exports_when_every_one_is_kept(new_exports, monkeypatch):
    users = new_exports.root / "exports/2024-10/users.csv"
    users.write_text(users.read_text().replace("maybe", "true"))
    _age(users)
    assert new_exports.run("bill", "2024-10").exit_code == 0
    works = []
    real, real_standby = forked.beside, forked.Standby.beside
    monkeypatch.setattr(forked, "beside", lambda work, meanwhile: works.append(work.__name__) or real(work, meanwhile))
    monkeypatch.setattr(forked.Standby, "beside", lambda self, arg, meanwhile: works.append("check") or real_standby(
        self, arg, meanwhile))
    new_exports.run("bill", "2024-10", "--no-pdf")
    assert works == []  # nothing changed: no check either
    new_exports.client("A1", name="Alpha renamed")
    new_exports.run("bill", "2024-10", "--no-pdf")
    assert works == ["check"]  # the ledger check, by the child forked at the start, but no child for the exports


def test_if_the_child_reading_the_client_files_dies_they_are_read_here(new_exports, monkeypatch):
    first = new_exports.run("bill", "2024-10").output
    forked.join_background()
    for path in (new_exports.root / ".otb").rglob("*"):
        if path.is_file():
            path.unlink()  # forget everything read
    parsed = _parsed_yaml_here(monkeypatch)
    monkeypatch.setattr(filecache.FileCache, "read_since", lambda self, before, kinds: os._exit(3))
    assert new_exports.run("bill", "2024-10").output == first
    assert sorted(parsed) == ["A1.yaml", "B2.yaml"]


def test_export_rows_read_here_are_stored_by_a_child_and_let_go_here_before_the_billing(new_exports, monkeypatch):
    """filecache.store_ahead: the rows are packed and written by the child it forks (0.5 s at 10,000 clients), and
    the cache here lets them go, so that the billing frees each client's rows once billed (10,000 clients: 750,000
    rows). Without that child, they are packed and stored at the end, here."""
    from otb_billing.jobs import pipeline

    during: list = []
    real_bill = pipeline.bill_month

    def bill_month(*args, **kwargs):
        entries = filecache._ACTIVE._entries  # type: ignore[union-attr]
        during.append([entry[2] for key, entry in entries.items() if key[0] == "export"])
        return real_bill(*args, **kwargs)

    monkeypatch.setattr(pipeline, "bill_month", bill_month)
    saved: list = []
    real_save = filecache._save_packed
    monkeypatch.setattr(filecache, "_save_packed", lambda *args: saved.append(os.getpid()) or real_save(*args))
    assert new_exports.run("bill", "2024-10").exit_code != 0  # the bad row: but what was read is kept
    forked.join_background()
    assert during == [[filecache.STORED, filecache.STORED]]
    assert saved == [] and (new_exports.root / filecache.PACKED_FILE).exists()  # written by the child
    _age(new_exports.root / "exports/2024-10/users.csv")  # a new ctime: read again
    monkeypatch.setattr(pipeline.forked, "background", lambda work, *a, **k: False)  # no child to be had
    assert new_exports.run("bill", "2024-10").exit_code != 0
    assert list in [type(value) for value in during[1]]  # users.csv's rows, held here while it bills
    assert saved == [os.getpid()]
    frames = list(filecache._frames((new_exports.root / filecache.PACKED_FILE).read_bytes(),
                                    filecache.code_version()))
    assert sorted(Path(meta[1]).name for meta, *_ in frames) == ["tickets.csv", "users.csv"]


def test_a_cache_that_let_rows_go_still_writes_them_when_it_stores_again(new_exports, monkeypatch):
    new_exports.run("bill", "2024-10")  # users.csv and tickets.csv kept
    monkeypatch.setattr(forked, "beside", lambda work, meanwhile: (meanwhile(), work())[1])  # no children
    new_exports.csv("2024-10", "usage.csv", "account,service,quantity", "A1,DOMAIN,1")
    _age(new_exports.root / "exports/2024-10/usage.csv")
    new_exports.run("bill", "2024-10")  # usage.csv read here: the file is written here, the others copied
    forked.join_background()
    frames = list(filecache._frames((new_exports.root / filecache.PACKED_FILE).read_bytes(),
                                    filecache.code_version()))
    assert sorted(Path(meta[1]).name for meta, *_ in frames) == ["tickets.csv", "usage.csv", "users.csv"]
    with filecache.persisted(new_exports.root) as cache:
        from otb_billing.core.month import Month
        from otb_billing.readers.exports import read_exports

        exports, _ = read_exports(new_exports.root, Month(2024, 10), "America/Toronto")
        assert cache.misses == 0 and len(exports.users) == 3 and len(exports.usage) == 1


def test_a_stream_waits_for_a_lagging_child_rather_than_hold_more_than_its_backlog():
    def consume(items):
        total = 0
        for item in items:
            time.sleep(0.005)  # a slow disk
            total += len(item)
        return total

    stream = forked.Stream(consume, keep=False)
    stream.BACKLOG = 2 << 20
    block = b"x" * (256 << 10)
    for _ in range(40):  # 10 MB, sent far faster than the child takes it
        stream.send(block)
        assert stream._backlog <= stream.BACKLOG  # what is not in the pipe yet, held here
    assert stream.finish() == 40 * len(block)
    assert stream.most_waiting <= stream.BACKLOG + len(block) + 64


GC_PROBE = """
import gc

from otb_billing.gcpause import paused

assert gc.isenabled()
frozen = gc.get_freeze_count()
with paused():
    assert not gc.isenabled()
assert gc.isenabled() and gc.get_freeze_count() == frozen
with paused(freeze=True):
    kept = [(n, str(n)) for n in range(1000)]
assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(kept)
gc.unfreeze()
gc.disable()
with paused():
    pass
assert not gc.isenabled()  # left as it was found
print("ok")
"""


def test_the_collector_is_held_off_inside_and_back_after_and_frozen_data_stays_out_of_its_sight():
    """In a process of its own: the collector's state is the process's, and a thread of another test in this one
    (a Fava server, a watch session) may pause it or freeze objects at any moment (seen once under xdist)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_a_command_about_to_change_the_ledger_reads_a_fresh_beancount_pickle_but_never_writes_one(repo, monkeypatch):
    """The change makes a pickle written now stale at once (a ledger of 12,000 invoices: 2.4 s of each `otb pay`);
    one that bean-check or Fava left, newer than every ledger file, is still read."""
    from beancount import loader

    from otb_billing.books import records_cache

    repo.client("A1")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    cache = repo.root / "ledger" / ".main.beancount.picklecache"
    monkeypatch.setattr(loader, "PICKLE_CACHE_THRESHOLD", 0.0)
    loader.initialize(True)  # every load is now worth caching, for the loader
    try:
        assert repo.run("pay", "A1", "1.00", "--date", "2024-11-01", "--ref", "P1").exit_code == 0
        assert not cache.exists()  # loaded for a change: nothing pickled
        loader.load_file(str(repo.root / "ledger" / "main.beancount"))  # as bean-check would
        assert cache.exists()
        read = []
        real = loader.load_file
        monkeypatch.setattr(loader, "load_file", lambda *a, **k: read.append(1) or real(*a, **k))
        (repo.root / records_cache.CACHE_FILE).unlink()  # else the records the first payment kept would serve
        assert repo.run("pay", "A1", "2.00", "--date", "2024-11-02", "--ref", "P2").exit_code == 0
        assert read == [1]  # the fresh pickle, through Beancount's cached loader (the check loads uncached)
    finally:
        monkeypatch.undo()
        loader.initialize(True)


# --- the check's child parses the ledger while otb bill bills (books/preparse.py) ------------------------------


def _aged_ledger(root):
    for path in (root / "ledger").rglob("*.beancount"):
        _age(path)


@pytest.mark.parametrize("round_", ["parsed", "read back from the parse cache"])
def test_files_parsed_ahead_are_what_the_check_would_parse_from_its_shadow_folder(example, round_):
    from beancount.parser import parser

    from otb_billing import forked
    from otb_billing.books import parse_cache, verify

    _aged_ledger(example)
    files = sorted((example / "ledger").rglob("*.beancount"))
    if round_ != "parsed":
        verify.parse_ahead(example)
        forked.join_background()  # the parses written by the child forked for them
        assert all(parse_cache.cache_path(example, p.relative_to(example / "ledger").as_posix()).exists()
                   for p in files)
    read = []
    real_parse = parse_cache.parse
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_cache, "parse", lambda *a: (lambda r: read.append(r[1] is None) or r)(real_parse(*a)))
        parsed = verify.parse_ahead(example)
    forked.join_background()
    assert read == [round_ != "parsed"] * len(files)  # every file a miss, then every one read back
    root = example.resolve()
    shadow = root / verify.SHADOW / "ledger"
    shadow.parent.mkdir(parents=True)
    verify._mirror(root / "ledger", shadow, {})  # nothing changed: the shadow ledger links to the real one
    try:
        assert len(parsed) == len(files) >= 10
        for name, (_, (entries, errors, options)) in parsed.items():
            again, again_errors, again_options = parser.parse_file(name)
            assert (entries, errors) == (again, again_errors), name
            assert {k: v for k, v in options.items() if k != "dcontext"} == {
                k: v for k, v in again_options.items() if k != "dcontext"}
            assert str(options["dcontext"]) == str(again_options["dcontext"])
    finally:
        (root / verify.SHADOW / "ledger").unlink()


def test_a_kept_parse_is_used_only_for_the_same_bytes_under_the_same_name_and_a_damaged_one_is_a_miss(tmp_path):
    from beancount.parser import parser

    from otb_billing.books import parse_cache

    text = b'2024-01-01 open Assets:Bank CAD\n2024-01-02 * "Deposit"\n  Assets:Bank  10.00 CAD\n  Equity:X\n'
    kept = tmp_path / "kept.pickle"

    def fresh(data, name):
        return parser.parse_file(__import__("io").BytesIO(data), report_filename=name)

    result, header = parse_cache.parse(text, "/l/a.beancount", kept)
    assert header is not None and result[0] == fresh(text, "/l/a.beancount")[0]
    parse_cache._write_all(tmp_path, [(kept, header, result)])
    assert parse_cache.parse(text, "/l/a.beancount", kept)[1] is None  # read back
    edited = text.replace(b"10.00", b"19.00")  # same size, other bytes
    for data, name in ((edited, "/l/a.beancount"), (text, "/l/b.beancount")):
        again, header = parse_cache.parse(data, name, kept)
        assert header is not None and again[0] == fresh(data, name)[0]
    blob = kept.read_bytes()
    for damaged in (blob[:len(blob) // 2], b"", b"\xff" * 40, blob[:-3] + b"xyz"):
        kept.write_bytes(damaged)
        again, header = parse_cache.parse(text, "/l/a.beancount", kept)
        assert header is not None and again[0] == result[0]


def test_a_payment_late_in_the_year_reads_the_unchanged_files_back_and_keeps_the_parse_of_the_changed_one(
        repo, monkeypatch, tmp_path):
    """The check's child reads back what the last check parsed, parses only the files changed since (here the
    payments file), and has their parses written before the command returns."""
    from otb_billing.books import parse_cache

    repo.client("A1")
    for month in ("2024-09", "2024-10"):
        repo.csv(month, "users.csv", USERS, "A1,u1,One,,true")
        assert repo.run("bill", month, "--no-pdf").exit_code == 0
        assert repo.run("finalize", month, "--at", f"{month}-28T09:00:00Z").exit_code == 0
    log = tmp_path / "log"
    real_parse = parse_cache.parse

    def spy(data, name, kept):
        result = real_parse(data, name, kept)
        if "shadow" in name:  # the check's child (this process's own load, if any, names the real files)
            with open(log, "a") as out:
                out.write(f"{os.path.basename(name)} {'hit' if result[1] is None else 'miss'}\n")
        return result

    monkeypatch.setattr(parse_cache, "parse", spy)
    runs = []
    payments = repo.root / "ledger/payments/2024.beancount"
    for n in (1, 2):
        _aged_ledger(repo.root)
        log.write_text("")
        as_parsed = payments.read_bytes() if payments.exists() else b""
        assert repo.run("pay", "A1", f"{n}.00", "--date", f"2024-11-0{n}", "--ref", f"P{n}").exit_code == 0
        runs.append(sorted(log.read_text().split("\n")[:-1]))
        assert not list((repo.root / ".otb").rglob("*.writing"))  # every parse kept was renamed into place
    assert "2024-10.beancount miss" in runs[0] and "2024.beancount" not in " ".join(runs[0])  # no payments yet
    assert "2024-10.beancount hit" in runs[1] and "2024.beancount miss" in runs[1]
    # and main.beancount, which the first payment gave the payments file's include
    assert [line for line in runs[1] if line.endswith("miss")] == ["2024.beancount miss", "main.beancount miss"]
    kept = parse_cache.cache_path(repo.root, "payments/2024.beancount")
    assert real_parse(as_parsed, os.path.normpath(repo.root.resolve() / ".otb/shadow/ledger/payments/2024.beancount"),
                      kept)[1] is None  # the file as the check's child parsed it: kept before the command returned


def test_the_check_parses_again_only_what_changed_and_finds_the_same_problems(example, monkeypatch):
    """A new balance assertion (staged) that the ledger breaks, and one written into a real file after the files
    were parsed ahead (as an editor might): the check with the parsed files must report both, as without them,
    and parse only those two files itself."""
    from beancount.parser import parser

    from otb_billing.books import verify

    _aged_ledger(example)
    parsed = verify.parse_ahead(example)
    staged = example / "staged-accounts.beancount"
    staged.write_text((example / "ledger/accounts.beancount").read_text()
                      + "\n2024-11-01 balance Assets:Receivable:620547  1.00 CAD\n")
    prices = example / "ledger/prices.beancount"
    prices.write_text(prices.read_text() + "\n2024-11-01 balance Assets:Receivable:555123  2.00 CAD\n")
    change = {"ledger/accounts.beancount": staged}
    without = verify.check_change(example, change)
    assert [p.message.split(":")[0] for p in without] == ["bean-check"] * 2
    real, parsed_here = parser.parse_file, []
    monkeypatch.setattr(parser, "parse_file", lambda f, *a, **k: parsed_here.append(os.path.basename(f)) or real(
        f, *a, **k))
    assert verify.check_change(example, change, parsed) == without
    assert sorted(parsed_here) == ["accounts.beancount", "prices.beancount"]


@pytest.mark.parametrize("command", [("pay", "A1", "1.00", "--date", "2024-11-01", "--ref", "P1"),
                                     ("credit", "A1-202410", "--amount", "1.00", "--reason", "test",
                                      "--date", "2024-11-01")])
def test_a_payment_or_credit_is_checked_by_a_child_that_parsed_the_ledger_while_this_process_loaded_it(
        repo, monkeypatch, tmp_path, command):
    from otb_billing.books import verify

    repo.client("A1")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    assert repo.run("finalize", "2024-10", "--at", "2024-11-01T09:00:00Z").exit_code == 0
    _aged_ledger(repo.root)
    seen = tmp_path / "seen.json"
    real, parent = verify.check_change, os.getpid()

    def spy(root, staged, parsed=None, on_pass=None, **kwargs):
        seen.write_text(json.dumps([os.getpid() != parent, sorted(os.path.basename(n) for n in parsed or {})]))
        return real(root, staged, parsed, on_pass, **kwargs)

    monkeypatch.setattr(verify, "check_change", spy)
    result = repo.run(*command)
    assert result.exit_code == 0, result.output
    in_child, parsed = json.loads(seen.read_text())
    assert in_child and "main.beancount" in parsed and "accounts.beancount" in parsed


def test_without_memory_for_the_parsed_ledger_or_when_parsing_ahead_fails_the_check_parses_it_all(
        repo, monkeypatch, tmp_path):
    from otb_billing import forked
    from otb_billing.books import verify

    repo.client("A1")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    _aged_ledger(repo.root)
    seen = tmp_path / "seen.json"
    real = verify.check_change

    def spy(root, staged, parsed=None, on_pass=None, **kwargs):
        seen.write_text(json.dumps(parsed is None))
        return real(root, staged, parsed, on_pass, **kwargs)

    monkeypatch.setattr(verify, "check_change", spy)
    from otb_billing.books import parse_cache

    monkeypatch.setattr(forked, "room_for", lambda size: size < 10**15)  # room for the check, not for the parse:
    monkeypatch.setattr(parse_cache, "PARSED_PER_BYTE", 10**15)
    assert repo.run("pay", "A1", "1.00", "--date", "2024-11-01", "--ref", "P1").exit_code == 0
    assert json.loads(seen.read_text()) is True
    monkeypatch.setattr(parse_cache, "PARSED_PER_BYTE", 1)
    monkeypatch.setattr(verify, "parse_ahead", lambda root: 1 / 0)
    assert repo.run("pay", "A1", "2.00", "--date", "2024-11-02", "--ref", "P2").exit_code == 0
    assert json.loads(seen.read_text()) is True


@pytest.mark.parametrize("command", [
    ("pay", "A1", "20.00", "--date", "2024-11-05", "--ref", "P1"),
    ("import-payments", "BANK", "--apply")])
def test_a_payment_in_the_books_currency_needs_only_the_kept_records_and_writes_what_a_full_load_would(
        tmp_path, monkeypatch, command):
    """After otb's last change kept the ledger's records, `otb pay` of a CAD client (or a CAD bank statement)
    loads no ledger (half of a payment late in the year); the ledger it writes is byte for byte the one a full
    load gives."""
    from conftest import Repo

    from otb_billing.books import records_cache
    from otb_billing.jobs import ledger_edit

    bank = tmp_path / "bank.csv"
    bank.write_text("date,amount,description,reference\n2024-11-05,20.00,Deposit A1-202410,B1\n"
                    "2024-11-06,5.00,Two,B2\n")
    twins = []
    for name in ("kept", "loaded"):
        repo = Repo(tmp_path / name)
        repo.client("A1")
        repo.client("A2", name="Two")
        repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A2,u2,Two,,true")
        assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
        assert repo.run("finalize", "2024-10", "--at", "2024-11-01T09:00:00Z").exit_code == 0
        twins.append(repo)
    kept, loaded = twins
    (loaded.root / records_cache.CACHE_FILE).unlink()
    loads = []
    real = ledger_edit.load_books
    monkeypatch.setattr(ledger_edit, "load_books", lambda *a, **k: loads.append(a[0].parent.name) or real(*a, **k))
    outputs = {}
    for repo in twins:
        result = repo.run(*(str(bank) if arg == "BANK" else arg for arg in command))
        assert result.exit_code == 0, result.output
        outputs[repo.root.name] = result.output
    assert loads == ["loaded"]  # the kept records served the other
    assert outputs["kept"] == outputs["loaded"]
    written = (kept.root / "ledger/payments/2024.beancount").read_text()
    assert all(ref in written for ref in (("B1", "B2") if command[0] == "import-payments" else ("P1",)))
    assert ({p.relative_to(kept.root): p.read_bytes() for p in (kept.root / "ledger").rglob("*.beancount")} ==
            {p.relative_to(loaded.root): p.read_bytes() for p in (loaded.root / "ledger").rglob("*.beancount")})


def test_a_payment_of_a_client_in_another_currency_loads_the_ledger(repo, monkeypatch):
    from otb_billing.jobs import ledger_edit

    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text() + "conversion_fee_pct: 2\n")
    repo.client("U1", "currency: USD\n", name="Union Co")
    repo.csv("2024-10", "users.csv", USERS, "U1,u1,One,,true")
    assert repo.run("fx", "set", "USD", "1.2500", "--date", "2024-10-31").exit_code == 0
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    loads = []
    real = ledger_edit.load_books
    monkeypatch.setattr(ledger_edit, "load_books", lambda *a, **k: loads.append(1) or real(*a, **k))
    result = repo.run("pay", "U1", "10.00", "--date", "2024-11-05", "--ref", "W1", "--rate", "1.2000")
    assert result.exit_code == 0, result.output
    assert loads == [1]


def test_beancount_loads_run_without_the_cyclic_collector_and_leave_it_as_they_found_it(example, monkeypatch):
    """A quarter of a load of 12,000 invoices was the collector walking entries that hold no cycles."""
    import gc

    from otb_billing.books import extract, verify

    seen = []
    real = verify.load_uncached
    monkeypatch.setattr(verify, "load_uncached", lambda main: seen.append(gc.isenabled()) or real(main))
    staged = example / "staged.beancount"
    staged.write_text((example / "ledger/accounts.beancount").read_text())
    assert verify.check_change(example, {"ledger/accounts.beancount": staged}) == []
    assert not extract.load_books(example / "ledger", for_change=True).problems
    assert seen == [False, False] and gc.isenabled()


def test_the_checks_child_imports_the_plugins_ahead_and_a_missing_one_is_left_for_the_check(example):
    """Imported while the child waits for its change (Fava's plugin brings Flask: 0.27 s of every check)."""
    import subprocess
    import sys

    main = example / "ledger" / "main.beancount"
    main.write_text(main.read_text() + '\nplugin "no_such_module.at_all"\n')
    probe = ("import sys; from pathlib import Path; from otb_billing.books import verify; "
             f"verify.import_plugins(Path({str(example)!r})); "
             "print(sorted(m for m in ('fava.plugins.link_documents', 'otb_billing.books.plugin', "
             "'beancount.ops.pad', 'beancount.ops.balance', 'no_such_module.at_all') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(sorted(['fava.plugins.link_documents', 'otb_billing.books.plugin',
                                      'beancount.ops.pad', 'beancount.ops.balance']))
    staged = example / "staged.beancount"
    staged.write_text(main.read_text())
    from otb_billing.books import verify

    problems = verify.check_change(example, {"ledger/main.beancount": staged})
    assert any("no_such_module" in p.message for p in problems)  # the check still says so


def test_a_background_writer_holds_neither_the_repo_lock_nor_a_finished_command(tmp_path):
    """It closes what it inherited: a check child killed for want of a change (its writer then dies a moment
    later) must not make the next command find the repo locked."""
    import time

    from otb_billing import forked
    from otb_billing.journal import repo_lock

    with repo_lock(tmp_path, "otb pay"):
        assert forked.background(lambda: time.sleep(2))
    started = time.monotonic()
    with repo_lock(tmp_path, "otb status"):
        pass
    assert time.monotonic() - started < 1.5  # taken at once, not once the writer ended
    forked.join_background()


def test_a_background_writer_runs_at_a_lower_priority_than_the_command(tmp_path):
    """A cache file only saves later time: the writer yields the cores to the work the command waits for (a first
    bill of 1,000 clients: 0.94–0.96 of the time), and runs at full speed once a core is idle."""
    from otb_billing import forked

    seen = tmp_path / "nice"
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert forked.background(lambda: seen.write_text(str(os.getpriority(os.PRIO_PROCESS, 0))))
    forked.join_background()
    assert int(seen.read_text()) == min(19, mine + forked.BACKGROUND_NICE)
    assert int(seen.read_text()) > mine or mine == 19  # (already the lowest: nothing lower to go to)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine


def test_a_killed_writers_temp_file_is_removed_once_old_and_a_fresh_one_is_left_to_its_writer(tmp_path):
    from otb_billing.books import parse_cache

    kept = parse_cache.cache_path(tmp_path, "payments/2024.beancount")
    kept.parent.mkdir(parents=True)
    old, fresh = (kept.with_name(f"{kept.name}.{pid}.writing") for pid in (11, 12))
    for temp in (old, fresh):
        temp.write_bytes(b"half")
    os.utime(old, (LONG_AGO, LONG_AGO))
    result, header = parse_cache.parse(b"", "/l/p.beancount", kept)
    parse_cache._write_all(tmp_path, [(kept, header, result)])
    assert sorted(p.name for p in kept.parent.iterdir()) == sorted([kept.name, fresh.name])


def test_with_memory_for_some_of_the_parses_the_first_ones_are_kept_and_the_next_check_keeps_more(
        example, monkeypatch):
    from otb_billing import forked
    from otb_billing.books import parse_cache, verify

    _aged_ledger(example)
    files = sorted((example / "ledger").rglob("*.beancount"))
    sizes = [p.stat().st_size for p in files]
    kept = [parse_cache.cache_path(example, p.relative_to(example / "ledger").as_posix()) for p in files]
    monkeypatch.setattr(forked, "room_for", lambda size: True)
    room = parse_cache.PARSED_PER_BYTE * (sizes[0] + sizes[1]) + 1  # room for the first two files' parses
    monkeypatch.setattr(parse_cache, "room", lambda: room)
    verify.parse_ahead(example)
    forked.join_background()
    assert [k.exists() for k in kept] == [True, True] + [False] * (len(files) - 2)
    room = 10**12
    verify.parse_ahead(example)
    forked.join_background()
    assert all(k.exists() for k in kept)


def test_a_whole_ledger_load_reads_back_the_files_unchanged_since_the_last_and_gives_the_same_books(
        example, monkeypatch):
    """extract.load_books (a payment in another currency, a report after an edit by hand) through the parse
    cache, under the files' own names: the same entries, records and problems as a load that parses."""
    from otb_billing import forked
    from otb_billing.books import extract, parse_cache

    files = sorted((example / "ledger").rglob("*.beancount"))
    kept = [parse_cache.cache_path(example, p.relative_to(example / "ledger").as_posix(), for_check=False)
            for p in files]
    for _ in range(len(files)):  # one writer at a time: each load keeps at least one more file
        first = extract.load_books(example / "ledger", for_change=True)
        forked.join_background()
        if all(k.exists() for k in kept):
            break
    assert all(k.exists() for k in kept)
    prices = example / "ledger" / "prices.beancount"
    prices.write_text(prices.read_text() + "\n2024-11-01 balance Assets:Receivable:555123  2.00 CAD\n")
    read = []
    real = parse_cache.parse
    monkeypatch.setattr(parse_cache, "parse", lambda data, name, at: (lambda r: read.append(
        (os.path.basename(name), r[1] is None)) or r)(real(data, name, at)))
    second = extract.load_books(example / "ledger", for_change=True)
    forked.join_background()
    assert sorted(read) == sorted((p.name, p.name != "prices.beancount") for p in files)
    assert len(second.entries) == len(first.entries) + 1  # the new balance assertion
    monkeypatch.undo()
    with monkeypatch.context() as patch:
        patch.setattr(parse_cache, "serving", lambda root: contextlib.nullcontext())
        parsed = extract.load_books(example / "ledger", for_change=True)
    assert second.entries == parsed.entries
    assert (second.docs, second.payments, second.problems) == (parsed.docs, parsed.payments, parsed.problems)
    assert [p.source for p in second.problems if "Balance failed" in p.message] == [
        Source("ledger/prices.beancount", 10)]  # the edit's broken assertion, with its file and line


def test_a_kept_parse_is_the_file_as_parsed_not_as_the_load_left_it(tmp_path):
    """Beancount's loader changes what the parser gave it (the top file's `include`, an interpolated posting's
    metadata dict): the writer is forked the moment a file is parsed, so what it keeps is the pristine parse."""
    from beancount.parser import parser

    from otb_billing import forked
    from otb_billing.books import extract, parse_cache

    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "main.beancount").write_text('option "operating_currency" "CAD"\ninclude "more.beancount"\n')
    (ledger / "more.beancount").write_text(
        '2024-01-01 open Assets:Bank CAD\n2024-01-01 open Equity:Opening CAD\n'
        '2024-01-02 * "Opening"\n  Assets:Bank  10.00 CAD\n  Equity:Opening\n')
    for _ in range(2):  # one writer at a time: the second load keeps what the first could not
        books = extract.load_books(ledger, for_change=True)
        forked.join_background()
        assert not books.problems
    for name in ("main.beancount", "more.beancount"):
        path = str(ledger / name)
        blob = parse_cache.cache_path(tmp_path, name, for_check=False).read_bytes()
        kept = pickle.loads(blob[4 + int.from_bytes(blob[:4], "little"):])
        fresh = parser.parse_file(path)
        assert kept[0] == fresh[0] and kept[2]["include"] == fresh[2]["include"], name


def test_a_background_writer_that_must_work_alone_is_not_started_beside_another():
    import time

    from otb_billing import forked

    assert forked.background(lambda: time.sleep(0.5))
    assert not forked.background(lambda: None, alone=True)
    forked.join_background()
    assert forked.background(lambda: None, alone=True)
    forked.join_background()


def test_ticket_hours_and_days_are_one_object_per_value_yet_keep_how_they_were_written():
    """summarize_tickets shares equal hours and days between tickets (10,000 clients: about 30 MB), but 1.0 and
    1.00 hours, equal as numbers, stay as written."""
    from otb_billing.core.inputs import TimeRow
    from otb_billing.core.rules import summarize_tickets

    def row(ticket, day, hours, billable=True):
        return TimeRow("A1", ticket, "", dt.datetime(2024, 10, day, 10), Decimal(hours), billable, "t.csv", 2)

    first = summarize_tickets([row("T1", 3, "0.5"), row("T1", 4, "0.5")])
    second = summarize_tickets([row("T2", 4, "1.0"), row("T2", 3, "0.0", billable=False), row("T3", 5, "1.00")])
    t1, (t2, t3) = first[0], second
    assert (t1.hours, t1.billable_hours, t1.dates) == (Decimal("1.0"), Decimal("1.0"), (dt.date(2024, 10, 3),
                                                                                       dt.date(2024, 10, 4)))
    assert t2.hours is t1.hours and t2.billable_hours is t1.hours  # 1.0 each time: one object
    assert t2.dates is t1.dates and t2.dates[1] is t1.dates[1]
    assert str(t3.hours) == "1.00" and t3.hours is not t1.hours  # equal, but printed as written


# --- the bill's outputs rendered by a child forked once the invoices exist (forked.Started) ----------------------


def test_a_started_child_works_while_this_process_goes_on_and_its_answer_or_error_comes_back():
    parent = os.getpid()
    started = forked.Started(lambda: (os.getpid() != parent, time.monotonic()))
    begun_here = time.monotonic()
    time.sleep(0.3)  # this process's own work
    in_child, done_at = started.result()
    assert in_child and done_at < begun_here + 0.3  # done before this process asked for it

    def fails():
        raise InputErrors([Problem(Source("clients/A1.yaml", 2), "bad", "fix")])

    with pytest.raises(InputErrors) as caught:
        forked.Started(fails).result()
    assert caught.value.problems == [Problem(Source("clients/A1.yaml", 2), "bad", "fix")]


def test_a_started_child_lost_is_said_and_one_not_wanted_is_stopped_and_without_room_the_work_is_done_here(
        monkeypatch):
    parent = os.getpid()
    lost = forked.Started(lambda: os._exit(3) if os.getpid() != parent else "here")
    with pytest.raises(forked.ChildLost, match="status"):  # never done again silently: the caller decides
        lost.result()
    busy = forked.Started(lambda: time.sleep(30))
    pid, started = busy.pid, time.monotonic()
    busy.cancel()  # would hang the test if the child were waited for
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    monkeypatch.setattr(forked, "memory_to_spare", lambda: False)
    here = forked.Started(lambda: os.getpid())
    assert here.pid == 0 and here.result() == parent


def test_a_stream_fed_by_a_forked_sender_after_a_flush_gets_whole_frames_in_order():
    """otb bill's outputs child sends to the build/ writer that this process started (OutputStage): what this
    process sent must all be in the pipe before the fork, and the child's all in it before it ends."""
    stream = forked.Stream(lambda items: list(items), keep=False)
    for i in range(30):  # 30 x 100 kB: more than the pipe holds, so some is still waiting here
        stream.send(bytes([i]) * 100_000)
    stream.flush()
    assert not stream._pending
    sender = forked.Started(lambda: [stream.send(bytes([100 + i]) * 100_000) for i in range(30)] and stream.flush())
    sender.result()
    got = stream.finish()
    assert [item[0] for item in got] == list(range(30)) + [100 + i for i in range(30)]
    assert all(len(item) == 100_000 for item in got)


def _outputs_repo(repo):
    for account, name in (("A1", "Alpha Dental"), ("B2", "Beta Law"), ("C3", "Gamma Clinic")):
        repo.client(account, name=name)
    repo.csv("2024-10", "users.csv", USERS, *(f"{a},{a}-u{i},User {i},,true" for a in ("A1", "B2", "C3")
                                               for i in range(3)))
    return repo


def test_a_bill_renders_its_outputs_in_a_child_while_this_process_writes_the_ledger(repo, monkeypatch, tmp_path):
    """...at a lower priority: the ledger's text and its check are what the command waits for longest."""
    from otb_billing.jobs import bill

    parent, rendered_by = os.getpid(), []
    real = bill.month_outputs
    seen = tmp_path / "nice"

    def month_outputs(*args, **kwargs):
        rendered_by.append(os.getpid())
        seen.write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))
        return real(*args, **kwargs)

    monkeypatch.setattr(bill, "month_outputs", month_outputs)
    _outputs_repo(repo)
    result = repo.run("bill", "2024-10", "--no-pdf")
    assert result.exit_code == 0, result.output
    assert rendered_by == []  # appended in the child's copy of the list only
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert int(seen.read_text()) == min(19, mine + bill.OUTPUTS_NICE) and bill.OUTPUTS_NICE > 0
    names = sorted(p.name for p in (repo.root / "build/2024-10").iterdir())
    assert names == ["Alpha Dental-A1-202410.csv", "Beta Law-B2-202410.csv", "Gamma Clinic-C3-202410.csv",
                     "bill-report.json", "invoices-2024-10.zip", "quickbooks-invoices-2024-10.csv"], names
    assert os.getpid() == parent


def test_an_outputs_child_lost_half_way_leaves_build_as_a_whole_render_here_makes_it(repo, tmp_path, monkeypatch):
    """The child had handed the writer a CSV and half of the next when it died: the writer's pipe is beyond use, so
    what it staged is thrown away and every output is made again here, and build/ is exactly what an undisturbed
    bill writes."""
    from otb_billing.jobs import bill

    _outputs_repo(repo)
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    undisturbed = {p.name: p.read_bytes() for p in (repo.root / "build/2024-10").iterdir()}
    shutil.rmtree(repo.root / "build")
    shutil.rmtree(repo.root / "ledger")
    parent, real = os.getpid(), bill.month_outputs

    def dies_half_way(root, config, month, blocks, fresh, emit=None, **kwargs):
        if os.getpid() != parent:  # the child: one CSV handed on, then killed half way through the next
            first = next(iter(fresh.values()))
            emit({root / "build" / str(month) / bill.qbcsv.csv_filename(first): b"half"})
            emit.__self__.flush()
            os.write(emit.__self__._child._data, (1000).to_bytes(8, "little") + b"cut short")
            os._exit(9)
        return real(root, config, month, blocks, fresh, emit=emit, **kwargs)

    monkeypatch.setattr(bill, "month_outputs", dies_half_way)
    result = repo.run("bill", "2024-10", "--no-pdf")
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in (repo.root / "build/2024-10").iterdir()} == undisturbed
    assert list((repo.root / ".otb" / "tmp").iterdir()) == []  # the lost child's staged CSV among them


def test_a_held_standby_prepares_only_once_released_and_a_check_that_comes_first_releases_it():
    """otb bill holds its check child's preparations until the YAML and CSVs are read (they take both cores)."""
    parent = os.getpid()

    def prepare():
        return time.monotonic()

    held = forked.Standby(lambda arg, ready: (arg, ready, os.getpid() != parent), prepare, held=True)
    time.sleep(0.3)
    released_at = time.monotonic()
    held.release()
    held.release()  # once only: a second token would be taken for the work's argument
    arg, prepared_at, in_child = held.beside("staged", lambda: None)
    assert (arg, in_child) == ("staged", True)
    assert prepared_at >= released_at  # not during the 0.3 s before
    never_released = forked.Standby(lambda arg, ready: (arg, ready is not None), prepare, held=True)
    assert never_released.beside("staged", lambda: None) == ("staged", True)


def test_a_standby_warms_up_at_once_even_held_and_a_failed_warm_up_is_no_answer(tmp_path):
    """`warm` (the check child's imports) runs as soon as the child is forked, before a held child is released."""
    parent = os.getpid()
    marker = tmp_path / "warmed"
    warm = forked.Standby(lambda arg, ready: (arg, ready, os.getpid() != parent), lambda: marker.read_text(),
                          held=True, warm=lambda: marker.write_text(str(time.monotonic())))
    time.sleep(0.3)
    released_at = time.monotonic()
    assert marker.exists() and float(marker.read_text()) < released_at  # warmed while still held
    assert warm.beside("staged", lambda: None) == ("staged", marker.read_text(), True)
    failing = forked.Standby(lambda arg, ready: (arg, ready), lambda: "prepared", warm=lambda: 1 / 0)
    assert failing.beside("staged", lambda: None) == ("staged", "prepared")


def test_otb_bill_forks_its_check_child_before_it_imports_beancount_and_the_child_imports_the_plugins_at_once(
        example, tmp_path):
    """jobs/check_ahead.py: the child is forked while this process is still importing the billing code, and
    imports Beancount and the check's plugins then (Fava's brings Flask), not once the YAML and CSVs are read."""
    import subprocess
    import sys

    log = tmp_path / "log"
    probe = f"""
import os, sys, time
log = open({str(log)!r}, "a")
real_fork = os.fork
def fork():
    log.write(f"fork {{os.getpid()}} {{'beancount' in sys.modules}} {{'otb_billing.jobs.bill' in sys.modules}}\\n")
    log.flush()
    return real_fork()
os.fork = fork
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "fava.plugins.link_documents":
            log.write(f"plugin {{os.getpid()}} {{time.monotonic()}}\\n"); log.flush()
        return None
sys.meta_path.insert(0, Watch())
from otb_billing import forked
real_release = forked.Standby.release
def release(self):
    log.write(f"release {{os.getpid()}} {{time.monotonic()}}\\n"); log.flush()
    real_release(self)
forked.Standby.release = release
from otb_billing.cli import main
main(["bill", "2024-10", "--no-pdf", "--root", {str(example)!r}])
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in log.read_text().splitlines()]
    parent = lines[0][1]
    assert lines[0] == ["fork", parent, "False", "False"]  # the first fork: the check's child, before both
    child = [line for line in lines if line[0] == "plugin" and line[1] != parent]  # (this process loads the
    release = [line for line in lines if line[0] == "release"]  # ledger too, for the example's payments)
    assert len(child) == 1 and len(release) == 1 and release[0][1] == parent, lines
    assert float(child[0][2]) < float(release[0][2])  # before the child was let go on (the inputs were read)


def test_a_bill_stores_its_parses_from_a_child_while_it_bills_and_not_again_at_the_end(repo, monkeypatch):
    """filecache.store_ahead: the clients' pickle (0.4 s at 10,000 clients) is written by a child once the inputs
    are read; the end of the bill stores it only when the child could not be started."""
    from otb_billing.jobs import pipeline

    repo.client("A1", name="Alpha")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    for file in repo.root.rglob("*.yaml"):
        _age(file)
    saves, starts = [], []
    real_save = filecache._save
    monkeypatch.setattr(filecache, "_save", lambda *args: (saves.append(os.getpid()), real_save(*args)))
    real_background = forked.background
    monkeypatch.setattr(pipeline.forked, "background", lambda work, *a, **k: (starts.append(1),
                                                                               real_background(work, *a, **k))[1])
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    forked.join_background()
    # the export rows' packer, forked once the CSVs are read, and the clients' store once all the inputs are: both
    # stored by their child only (their appends are not seen here)
    assert starts == [1, 1] and saves == []
    assert any(key[0] == "client" for key in _stored(repo))
    (repo.root / CACHE_FILE).unlink()
    repo.client("B2", name="Beta")  # a parse to store
    _age(repo.root / "clients" / "B2.yaml")
    monkeypatch.setattr(pipeline.forked, "background", lambda work, *a, **k: False)  # no child to be had
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    assert saves == [os.getpid()]
    assert any(key[1].endswith("B2.yaml") for key in _stored(repo))


def test_the_bill_s_table_is_made_while_the_check_runs_and_printed_as_before(repo, monkeypatch):
    """run_bill(summary=...): the table (10,000 clients: 0.16 s) is made in commit_ledger's `meanwhile`, once the
    outputs' child is done and while the other core checks the ledger, not after the commit on one core."""
    from otb_billing.render import report

    _outputs_repo(repo)
    month_file = repo.root / "ledger" / "invoices" / "2024" / "2024-10.beancount"
    seen = []
    real = report.result_table
    monkeypatch.setattr(report, "result_table", lambda *args: (seen.append(month_file.exists()), real(*args))[1])
    result = repo.run("bill", "2024-10", "--no-pdf")
    assert result.exit_code == 0, result.output
    assert seen == [False]  # made once, before the ledger's commit
    assert "Alpha Dental" in result.output and "3 invoice(s)" in result.output
    assert repo.run("bill", "2024-10", "--no-pdf", "--dry-run").exit_code == 0
    assert seen == [False, True]  # a dry run: made at its end, once


def test_a_month_billed_anew_gets_its_build_folder_in_one_rename_and_a_rebill_only_what_changed(repo, monkeypatch):
    """outputs.OutputStage: build/MONTH does not exist yet, so it is made whole in .otb/tmp and renamed into place
    (1,000 clients: 1,006 renames of files before, on one core at the end of the bill); billed again, only the
    files whose bytes changed are replaced, one by one."""
    from otb_billing import outputs

    replaced = []
    real = outputs.replace_into
    monkeypatch.setattr(outputs, "replace_into", lambda source, target: (replaced.append(target.name),
                                                                         real(source, target))[1])
    _outputs_repo(repo)
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    build = repo.root / "build" / "2024-10"
    assert replaced == []
    assert {"Alpha Dental-A1-202410.csv", "Beta Law-B2-202410.csv", "Gamma Clinic-C3-202410.csv",
            "invoices-2024-10.zip", "quickbooks-invoices-2024-10.csv", "bill-report.json"} <= set(os.listdir(build))
    assert os.listdir(repo.root / ".otb" / "tmp") == []
    repo.csv("2024-10", "users.csv", USERS, *(f"{a},{a}-u{i},User {i},,true" for a in ("A1", "B2", "C3")
                                               for i in range(4 if a == "B2" else 3)))
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    assert sorted(replaced) == ["Beta Law-B2-202410.csv", "invoices-2024-10.zip", "quickbooks-invoices-2024-10.csv"]


@pytest.mark.parametrize("data", [b"a: 1\r\nb: 2\r\n", b"a: 1\rb: 2\r", b"\xef\xbb\xbfa: 1\n", b"a: 1\r\r\n\n\r",
                                   b"", b"x: \"two\r\n  lines\"\r\n", "name: Łódź\r\n".encode()])
def test_reading_a_file_in_one_open_gives_the_text_a_python_text_file_gives(tmp_path, data):
    """readers/sources.read_text reads bytes and decodes them itself: universal newlines and the BOM as before."""
    from otb_billing.readers.sources import read_text, relative_name

    path = tmp_path / "clients" / "A1.yaml"
    path.parent.mkdir()
    path.write_bytes(data)
    problems: list = []
    assert read_text(path, "clients/A1.yaml", problems) == path.read_text(encoding="utf-8-sig")
    assert problems == []
    assert relative_name(path, tmp_path) == "clients/A1.yaml"
    assert relative_name(tmp_path / "clients" / ".." / "clients" / "A1.yaml", tmp_path) == "clients/../clients/A1.yaml"


def test_ticket_times_kept_in_the_cache_come_back_as_read_across_the_hour_the_clocks_go_back(repo):
    """Export rows are kept as the repo's wall clock and fold (readers/exports._wall): 01:30 on the night the
    clocks go back happens twice (the second one written with its -05:00 offset), a time with another offset is
    converted, and 02:30 on the night they go forward does not exist; each comes back from the cache exactly as a
    fresh reading gives it."""
    from otb_billing.core.month import Month
    from otb_billing.readers import exports

    repo.client("A1")
    repo.csv("2024-11", "tickets.csv", "account,ticket,subject,date,hours,billable",
             "A1,T1,first,2024-11-03T01:30:00,1.0,true", "A1,T2,second,2024-11-03T01:30:00-05:00,1.00,true",
             "A1,T3,utc,2024-11-20T15:45:10.250000+00:00,0.5,true", "A1,T4,date,2024-11-21,2,false")
    repo.csv("2025-03", "tickets.csv", "account,ticket,subject,date,hours,billable",
             "A1,T5,gap,2025-03-09T02:30:00,1,true")
    for month in (Month(2024, 11), Month(2025, 3)):
        fresh, problems = exports.read_exports(repo.root, month, "America/Toronto")
        assert problems == []
        depends = exports._depends(month, "America/Toronto", exports.DEFAULT_FORMAT)
        back = exports._unpack(marshal.loads(marshal.dumps(exports._pack(list(fresh.tickets), depends))), depends)
        assert back == list(fresh.tickets)
        assert [(r.when.isoformat(), r.when.fold, str(r.hours)) for r in back] == [
            (r.when.isoformat(), r.when.fold, str(r.hours)) for r in fresh.tickets]
    assert [r.when.fold for r in fresh.tickets] == [0]  # March: the gap time kept as written
    november, _ = exports.read_exports(repo.root, Month(2024, 11), "America/Toronto")
    assert [r.when.fold for r in november.tickets][:2] == [0, 1]


def test_a_cache_from_another_version_of_otb_is_left_unread_past_its_version(cached_repo, monkeypatch):
    """After an upgrade the entries are never unpickled (0.3 s at 10,000 clients): the version comes first."""
    repo, _ = cached_repo
    assert _stored(repo)  # this version's: read whole
    path = repo.root / CACHE_FILE
    path.write_bytes(pickle.dumps("an older otb") + path.read_bytes()[len(pickle.dumps(filecache.code_version())):])
    unpickled = []
    real = filecache.pickle.loads
    monkeypatch.setattr(filecache.pickle, "loads", lambda data, *a, **k: (unpickled.append(len(data)),
                                                                           real(data, *a, **k))[1])
    cache = filecache._load(repo.root, filecache.code_version())
    assert not [key for key in cache._entries if key[0] in filecache.PERSISTED_KINDS] and unpickled == []
    assert repo.invoice()["subtotal"] == "35.00"  # read again, and stored again for this version
    assert _stored(repo)


def test_a_bills_outcome_is_never_freed_by_the_commands_return_or_the_interpreters_exit(repo):
    """Freeing 10,000 invoices object by object took 0.3 s of a bill; gcpause.keep_to_exit holds them instead (and
    what `status` read)."""
    import gc
    import weakref

    from otb_billing import gcpause

    repo.client("A1", name="Alpha")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    first = weakref.ref(gcpause._KEPT[0])
    assert [inv.number for inv in gcpause._KEPT[0].invoices] == ["A1-202410"]
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    gc.collect()
    assert first() is None  # the one before is let go: nothing piles up run after run
    kept = weakref.ref(gcpause._KEPT[0])
    gcpause._KEPT = []  # as the interpreter's exit clears the module (what held the outcome is left to itself)
    gc.collect()
    assert kept() is not None  # the list holds itself, out of the collector's sight: never freed
    assert repo.run("status", "--as-of", "2024-11-30").exit_code == 0
    assert list(gcpause._KEPT[0].invoices) == ["A1-202410"]


def test_the_configuration_pickles_as_classes_and_field_values_and_reads_back_equal(example):
    """core/pickled.by_fields: no dataclasses __setstate__ run per object (the clients cross from the child that
    reads the YAML, and come back from the cache, 40% faster)."""
    import dataclasses

    from otb_billing.core.pickled import by_fields
    from otb_billing.readers.config import read_config_collecting

    config, problems = read_config_collecting(example)
    assert problems == [] and config is not None and config.clients
    data = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_dataclass_setstate" not in data
    assert pickle.loads(data) == config

    @dataclasses.dataclass(frozen=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    with pytest.raises(TypeError, match="every field must be an __init__ argument"):
        by_fields(Derived)


def test_the_rows_packer_is_forked_before_this_process_holds_the_clients(new_exports, monkeypatch):
    """filecache.store_rows_ahead: forked from a process that holds the rows only (10,000 clients: 278 MiB instead
    of 326, and the largest process of the bill 351 MiB instead of 383: the packer's peak was the bill's)."""
    from otb_billing.jobs import pipeline

    for path in new_exports.root.rglob("*.yaml"):
        _age(path)
    held: list[tuple[int, int]] = []  # (clients, export rows lists) in this process's cache at each fork
    real_background = forked.background

    def background(work, *args, **kwargs):
        entries = filecache._ACTIVE._entries  # type: ignore[union-attr]
        held.append((sum(key[0] == "client" for key in entries),
                     sum(key[0] == "export" and isinstance(entry[2], list) for key, entry in entries.items())))
        return real_background(work, *args, **kwargs)

    monkeypatch.setattr(pipeline.forked, "background", background)
    assert new_exports.run("bill", "2024-10").exit_code != 0  # the bad row
    forked.join_background()
    assert held == [(0, 2), (2, 0)]  # the packer: the two CSVs' rows, no client yet; then the clients' store
    frames = list(filecache._frames((new_exports.root / filecache.PACKED_FILE).read_bytes(),
                                    filecache.code_version()))
    assert sorted(Path(meta[1]).name for meta, *_ in frames) == ["tickets.csv", "users.csv"]
    assert {key[0] for key in _stored(new_exports)} >= {"client"}


def test_the_other_months_invoices_are_read_by_a_child_and_only_when_not_kept(repo, monkeypatch):
    """pipeline.PriorsAhead: Beancount's parse of a month file (150 MB of entries at 10,000 clients) stays in a
    child, which hands back the invoices; the same bill as read here, and nothing forked once they are kept."""
    from otb_billing.books import invoice_files
    from otb_billing.jobs import pipeline

    repo.client("A1", name="Alpha", extra="prepaid_hours: {yearly: 10}\n")
    for month in ("2024-10", "2024-11"):
        repo.csv(month, "tickets.csv", "account,ticket,date,hours", f"A1,T1,{month}-03,4")
    for path in repo.root.rglob("*"):
        if path.is_file():
            _age(path)
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    _age(repo.root / "ledger/invoices/2024/2024-10.beancount")
    log = repo.root.parent / "priors.log"
    parses = _parses_anywhere(monkeypatch, log, invoice_files, "_file_priors")
    november = repo.bill_json("2024-11")
    assert [name for _, name in parses()] == ["2024-10.beancount"] and parses()[0][0] != os.getpid()
    forked.join_background()
    log.unlink()
    starts: list[int] = []
    real_started = forked.Started
    monkeypatch.setattr(pipeline.forked, "Started", lambda work: starts.append(1) or real_started(work))
    assert repo.bill_json("2024-11") == november  # October's invoices kept: parsed nowhere, no child for them
    assert not log.exists() and starts == []
    for path in (repo.root / ".otb").rglob("*"):
        if path.is_file():
            path.unlink()
    monkeypatch.setattr(pipeline.forked, "Started", real_started)
    monkeypatch.setattr(pipeline.PriorsAhead, "_read", lambda self: os._exit(3))  # the child lost: read here
    assert repo.bill_json("2024-11") == november
    assert [pid for pid, _ in parses()] == [os.getpid()]
    # 10 yearly hours: 4 used in October (known from the ledger only), 4 now, 2 left
    assert [line["description"] for line in november["invoices"][0]["lines"]] == [
        "Support hours: 4 h worked, 4 h from the yearly pool (2 h left)"]


def test_kept_export_rows_are_mapped_from_the_cache_file_not_read_into_memory(new_exports):
    """filecache._mapped: a bill holds only the rows it unpacks (the month after the one just billed held that
    month's 43 MB of rows at 10,000 clients for nothing); they come back the same."""
    import mmap

    from otb_billing.core.month import Month
    from otb_billing.readers.exports import read_exports

    users = new_exports.root / "exports/2024-10/users.csv"
    users.write_text(users.read_text().replace("maybe", "true"))
    _age(users)
    assert new_exports.run("bill", "2024-10").exit_code == 0
    forked.join_background()
    with filecache.persisted(new_exports.root) as cache:
        packed = [entry[2] for key, entry in cache._entries.items() if key[0] == "export"]
        assert len(packed) == 2 and all(isinstance(value.blob.obj, mmap.mmap) for value in packed)
        exports, _ = read_exports(new_exports.root, Month(2024, 10), "America/Toronto")
        assert cache.misses == 0 and [u.user_id for u in exports.users] == ["u1", "u2", "u3"]


def _rss_file_kb() -> int:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssFile:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc to see resident pages")
def test_rows_copied_from_the_mapped_cache_file_to_the_new_one_leave_no_pages_in_this_process(tmp_path):
    """filecache._copy_mapped: the month before's rows, copied whole through the mapping, stayed in the resident
    size of the child storing the cache (10,000 clients: 42 MiB; it was the largest process of the month after)."""
    data = os.urandom(40 << 20)
    source = tmp_path / "exports.marshal"
    source.write_bytes(b"x" * 4096 + data)
    mapped = filecache._mapped(source)
    blob = memoryview(mapped)[4096:]
    before = _rss_file_kb()
    with open(tmp_path / "copied", "wb") as out:
        filecache._frame(out, blob, 4096)
    assert _rss_file_kb() - before < 8 << 10  # at most a few chunks' pages (1 MiB each)
    assert (tmp_path / "copied").read_bytes() == len(data).to_bytes(8, "little") + data
    with open(tmp_path / "whole", "wb") as out:  # what it was: the measurement sees it
        out.write(blob)
    assert _rss_file_kb() - before > 30 << 10


def test_the_month_just_billed_is_stored_for_the_next_without_pickling_the_clients_again(repo):
    """filecache.PICKLED_FILES: last month's invoices go to priors.pickle alone; inputs.pickle, with the clients
    (10,000 of them: 0.6 s to pickle), is left as it was."""
    repo.client("A1", name="Alpha")
    for month in ("2024-10", "2024-11"):
        repo.csv(month, "users.csv", USERS, "A1,u1,One,,true")
    for path in repo.root.rglob("*"):
        if path.is_file():
            _age(path)
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    forked.join_background()
    _age(repo.root / "ledger/invoices/2024/2024-10.beancount")
    inputs = repo.root / CACHE_FILE
    before = os.stat(inputs)
    assert repo.run("bill", "2024-11", "--no-pdf").exit_code == 0
    forked.join_background()
    after = os.stat(inputs)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    october = str(repo.root / "ledger/invoices/2024/2024-10.beancount")
    assert ("priors", october) in _stored(repo) and any(kind == "client" for kind, _ in _stored(repo))


def test_a_first_bill_never_imports_beancount_in_the_billing_process_and_reads_its_version_as_beancount_does(
        repo):
    """Importing any of Beancount imports all of it (40–70 ms before the billing could start); a month billed
    anew is checked by the check's child, which loads it. The version that keys the ledger's signature and the
    kept parses is read from Beancount's VERSION file, as Beancount itself reads it."""
    import subprocess
    import sys

    import beancount

    for account in ("A1", "B2"):
        repo.client(account)
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true")
    code = ("import sys; from otb_billing.cli import main; from otb_billing.books import versions; "
            f"main(['bill', '2024-10', '--no-pdf', '--root', {str(repo.root)!r}], standalone_mode=False); "
            "print('beancount' in sys.modules, versions.beancount_version())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1].split() == ["False", beancount.__version__]
    assert (repo.root / "ledger/invoices/2024/2024-10.beancount").exists()
    assert repo.run("check").exit_code == 0


def test_the_ledgers_signature_names_otbs_and_beancounts_versions_without_importlib_metadata(repo, monkeypatch):
    """books/verify._versions: importlib.metadata took 10–40 ms to import at the end of every bill (the commit
    records the signature of the ledger it checked); the modules' own versions say the same."""
    import subprocess
    import sys

    import beancount

    from otb_billing.books import verify

    repo.client("A1", name="Alpha")
    for month in ("2024-10", "2024-11"):
        repo.csv(month, "users.csv", USERS, "A1,u1,One,,true")
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    before = verify.signature(repo.root / "ledger")
    monkeypatch.setattr(beancount, "__version__", "99.0")
    assert verify.signature(repo.root / "ledger") != before  # another Beancount: the ledger is checked again
    code = ("import sys; from otb_billing.cli import main; "
            f"main(['bill', '2024-11', '--no-pdf', '--root', {str(repo.root)!r}], standalone_mode=False); "
            "print('importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"
