"""otb bill's month file parsed by the check's child piece by piece as it is rendered (books/preparse.Pieces,
forked.Standby.feed, jobs/bill.MonthFeed): the check must get exactly what Beancount's whole-file parse gives, and
parse the file itself whenever the pieces are not the staged file's beginning or do not parse cleanly."""

from __future__ import annotations

import io
import os
import random
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from beancount.parser import parser

from otb_billing import forked
from otb_billing.books import preparse, verify
from otb_billing.core.money import CENT
from otb_billing.jobs import bill

RELATIVE = "invoices/2024/2024-10.beancount"
USERS = "account,user_id,name,email,active"


def _blocks(example: Path) -> list[bytes]:
    """A month file's blocks: the example's October invoices, many times over under other numbers, with
    amounts of other precisions (the display context), and options, tags and metadata pushed in one block
    and popped in another (the parser's state carried from piece to piece)."""
    text = (example / "ledger" / RELATIVE).read_bytes()
    header, *blocks = text.split(b"\n\n")
    made = [header + b"\n"]
    for n in range(40):
        block = blocks[n % len(blocks)].rstrip(b"\n") + b"\n"
        made.append(b"\n" + block.replace(b"-202410", b"-2024%02d" % n))
        if n == 7:
            made.append(b'\noption "operating_currency" "USD"\npushtag #late\npushmeta source: "test"\n')
        if n == 23:
            made.append(b"\npoptag #late\npopmeta source:\n")
        if n == 30:
            made.append(b'\n2024-10-31 * "Odd precision"\n  Assets:Cash  1.125 USD\n  Income:Other  -1.125 USD\n')
    return made


def _whole(path: Path):
    return parser.parse_file(str(path))


def _same(got, expected) -> None:
    entries, errors, options = got
    assert (entries, errors) == expected[:2]
    assert {k: v for k, v in options.items() if k != "dcontext"} == {
        k: v for k, v in expected[2].items() if k != "dcontext"}
    assert str(options["dcontext"]) == str(expected[2]["dcontext"])


def _fed(shadow: Path, pieces: list[bytes], relative: str = RELATIVE) -> preparse.Pieces:
    fed = preparse.Pieces(shadow)
    for piece in pieces:
        fed.add(relative, piece)
    return fed


def _split(blocks: list[bytes], rng: random.Random) -> list[bytes]:
    """The blocks grouped into pieces at random block boundaries, as MonthFeed groups them."""
    pieces, current = [], []
    for block in blocks:
        current.append(block)
        if rng.random() < 0.3:
            pieces.append(b"".join(current))
            current = []
    return pieces + [b"".join(current)] if current else pieces


@pytest.mark.parametrize("seed", range(8))
def test_a_file_parsed_in_pieces_is_what_beancount_parses_whole_fed_all_or_only_its_beginning(
        example, tmp_path, seed):
    rng = random.Random(seed)
    blocks = _blocks(example)
    pieces = _split(blocks, rng)
    shadow = tmp_path / "shadow"
    path = shadow / RELATIVE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(pieces))
    whole = _whole(path)
    assert not whole[1] and len(whole[0]) == 41 and "late" in whole[0][20].tags  # the state did carry over
    fed_count = rng.randrange(1, len(pieces) + 1)  # the rest is the tail the check parses
    _same(_fed(shadow, pieces[:fed_count]).result(str(path)), whole)
    assert _fed(shadow, pieces).result(str(shadow / "invoices/2024/../2024/2024-10.beancount")) is not None


def test_pieces_that_are_not_the_files_beginning_or_leave_a_parse_error_are_not_used(example, tmp_path):
    blocks = _blocks(example)
    pieces = [b"".join(blocks[:10]), b"".join(blocks[10:25]), b"".join(blocks[25:])]
    shadow = tmp_path / "shadow"
    path = shadow / RELATIVE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(pieces))
    other = pieces[1].replace(b"-100.00 CAD", b"-100.01 CAD", 1)
    assert other != pieces[1]
    assert _fed(shadow, [pieces[0], other]).result(str(path)) is None  # other bytes than the staged file's
    assert _fed(shadow, pieces + [b"\n"]).result(str(path)) is None  # more than the file
    assert _fed(shadow, pieces, relative="invoices/2024/2024-09.beancount").result(str(path)) is None
    assert _fed(shadow, pieces).result(str(shadow / "main.beancount")) is None  # not the file fed
    mixed = preparse.Pieces(shadow)
    mixed.add(RELATIVE, pieces[0])
    mixed.add("invoices/2024/2024-09.beancount", pieces[1])  # a second file: neither is used
    assert mixed.result(str(path)) is None
    used = _fed(shadow, pieces)
    assert used.result(str(path)) is not None and used.result(str(path)) is None  # used once
    # a piece ending inside a string the next one closes: an error in the piece, so the file is parsed whole
    cut = pieces[1].index(b'"Invoice ') + 3
    split = [pieces[0], pieces[1][:cut], pieces[1][cut:] + pieces[2]]
    assert _fed(shadow, split).result(str(path)) is None
    # the tail (not fed) with an error: parsed whole too, so the error is Beancount's own
    broken = b"".join(pieces) + b'\n2024-10-31 * "Unclosed\n'
    path.write_bytes(broken)
    assert _fed(shadow, pieces).result(str(path)) is None
    assert _whole(path)[1]


def _unbalanced(example: Path, tmp_path: Path) -> tuple[Path, bytes]:
    """The example's October file staged with one invoice off by a cent, and an account never opened."""
    text = (example / "ledger" / RELATIVE).read_bytes()
    text = text.replace(b"-100.00 CAD", b"-100.01 CAD", 1) + (
        b'\n2024-10-31 * "Stray"\n  Assets:Nowhere  1.00 CAD\n  Income:Other  -1.00 CAD\n')
    staged = tmp_path / "staged.beancount"
    staged.write_bytes(text)
    return staged, text


def test_the_check_with_the_month_file_fed_in_pieces_finds_what_it_finds_without_and_does_not_parse_it(
        example, tmp_path, monkeypatch):
    staged, text = _unbalanced(example, tmp_path)
    change = {f"ledger/{RELATIVE}": staged}
    without = verify.check_change(example, change)
    assert len(without) >= 2 and any("Assets:Nowhere" in p.message for p in without)
    assert all(p.source.file == f"ledger/{RELATIVE}" and p.source.line > 1 for p in without
               if "Nowhere" in p.message or "balance" in p.message)
    cut = text.index(b"\n\n", len(text) // 2) + 1
    real, parsed_here = parser.parse_file, []
    monkeypatch.setattr(parser, "parse_file", lambda f, *a, **k: parsed_here.append(os.path.basename(f)) or real(
        f, *a, **k))
    pieces = verify.pieces_ahead(example)
    for piece in (text[:cut], text[cut:]):
        pieces.add(RELATIVE, piece)
    assert verify.check_change(example, change, pieces=pieces) == without
    assert "2024-10.beancount" not in parsed_here and "main.beancount" in parsed_here


def test_a_standby_is_fed_in_order_before_its_work_and_the_work_here_does_without(monkeypatch):
    parent = os.getpid()
    got: list = []

    def work(arg, ready):
        return arg, list(got), os.getpid() != parent

    def fed(item):
        if item == "bad":
            raise ValueError(item)  # no answer of its own: the work goes on
        got.append(item)

    standby = forked.Standby(work, held=True, fed=fed)
    for item in ("a", "bad", ("b", b"\x00" * 100_000), "c"):
        standby.feed(item)
    assert standby.beside({"x": 1}, lambda: None) == ({"x": 1}, ["a", ("b", b"\x00" * 100_000), "c"], True)
    assert got == []  # fed in the child only
    unfed = forked.Standby(work)  # no `fed`: nothing is sent
    unfed.feed("a")
    assert unfed.beside("arg", lambda: None) == ("arg", [], True)
    monkeypatch.setattr(forked, "memory_to_spare", lambda: False)  # the work runs here, without what was fed
    here = forked.Standby(work, fed=fed)
    here.feed("a")
    assert here.beside("arg", lambda: None) == ("arg", [], False)


class _Feed(list):
    """A child's pipe that takes every piece offered, or refuses the ones whose turn is in `refused`."""

    def __init__(self, refused=()):
        super().__init__()
        self.refused, self.offers = set(refused), 0

    def __call__(self, item) -> bool:
        self.offers += 1
        if self.offers in self.refused:
            return False
        self.append(item)
        return True


def _month_feed(path: Path, parts: list[bytes], fed: _Feed | None = None) -> _Feed:
    fed = _Feed() if fed is None else fed
    feed = bill.MonthFeed(fed, RELATIVE, path)
    for part in parts:
        feed.add(part)
    feed.close()
    return fed


@pytest.mark.parametrize("case", ["new", "same", "changed late", "changed first", "longer", "shorter"])
def test_the_month_file_is_fed_only_if_it_changes_and_then_all_of_it_in_pieces_that_end_with_an_invoice(
        example, tmp_path, monkeypatch, case):
    monkeypatch.setattr(bill.MonthFeed, "FEED_EVERY", 2000)
    blocks = _blocks(example)
    parts = [blocks[0]] + [part for block in blocks[1:] for part in (b"\n", block[1:])]  # as month_file_parts
    new = list(parts)
    if case == "changed late":
        new[-1] = new[-1].replace(b"CAD", b"USD")
    elif case == "changed first":
        new[2] = new[2].replace(b"CAD", b"USD")
    elif case == "longer":
        new += [b"\n", b'2024-10-31 * "More"\n  Assets:Cash  1.00 CAD\n  Income:Other  -1.00 CAD\n']
    elif case == "shorter":
        new = new[:-2]
    path = tmp_path / "month.beancount"
    if case != "new":
        path.write_bytes(b"".join(parts))
    fed = _month_feed(path, new)
    if case == "same":
        assert fed == []  # billed again, nothing changed: no check, nothing to parse
        return
    assert {name for name, _ in fed} == {RELATIVE}
    pieces = [piece for _, piece in fed]
    assert b"".join(pieces) == b"".join(new) and len(pieces) > 5
    assert all(len(piece) >= 2000 for piece in pieces[:-1])
    assert all(piece.endswith(b"\n") and not piece.endswith(b"\n\n") for piece in pieces)
    assert all(piece[:1] == b"\n" and piece[1:2] not in (b"\n", b" ") for piece in pieces[1:])  # a blank line


def test_pieces_the_pipe_cannot_take_yet_wait_for_the_next_and_those_left_at_the_end_are_not_fed(
        example, tmp_path, monkeypatch):
    monkeypatch.setattr(bill.MonthFeed, "FEED_EVERY", 2000)
    blocks = _blocks(example)
    parts = [blocks[0]] + [part for block in blocks[1:] for part in (b"\n", block[1:])]
    everything = _month_feed(tmp_path / "none", parts)
    assert len(everything) > 10
    caught_up = _month_feed(tmp_path / "none", parts, _Feed(refused={2, 3, 5}))
    assert caught_up == everything  # offered again with the next piece, in order
    feed = _Feed(refused=set(range(8, 10**4)))  # a pipe that stays full from the 8th offer on
    stopped = _month_feed(tmp_path / "none", parts, feed)
    assert stopped == everything[:7] and feed.offers > 8  # the rest are the check's to parse


def test_a_standby_is_fed_only_what_its_pipe_takes_at_once_and_its_work_is_never_stuck_behind_it():
    """A child busy preparing reads nothing: feed() stops being taken when the pipe is full (nothing waits in this
    process), and the work's `arg` still goes in at once, in the room left for it."""
    parent = os.getpid()
    got: list = []

    def prepare():
        time.sleep(0.5)

    standby = forked.Standby(lambda arg, ready: (arg, len(got), os.getpid() != parent), prepare,
                             fed=lambda item: got.append(item))
    stream = standby._stream
    piece = b"x" * (60 << 10)
    taken = 0
    while standby.feed(piece):
        taken += 1
        assert taken < 100
    assert 10 <= taken <= 17 and not stream._pending  # 1 MB of pipe, 64 KB of it left for `arg`
    seen = []
    assert standby.beside({"staged": "x" * 500}, lambda: seen.append(list(stream._pending))) == (
        {"staged": "x" * 500}, taken, True)
    assert seen == [[]]  # `arg` was all in the pipe while `meanwhile` ran


def test_otb_bill_of_a_new_month_has_its_check_use_the_month_file_as_fed_and_reports_as_before(
        repo, tmp_path, monkeypatch):
    """End to end: the check's child takes the month file from the pieces it was fed, and an invoice that would
    break the ledger is reported with the same line as when the child parses the file itself."""
    from otb_billing.books import writer

    for n in range(12):
        repo.client(f"A{n:02d}", name=f"Client {n}")
    repo.csv("2024-10", "users.csv", USERS, *[f"A{n:02d},u{n},User {n},,true" for n in range(12)])
    monkeypatch.setattr(bill.MonthFeed, "FEED_EVERY", 1500)
    log = tmp_path / "log"
    real_result = preparse.Pieces.result

    def result(self, file):
        found = real_result(self, file)
        with open(log, "a") as out:
            out.write(f"{os.path.basename(file)} {found is not None}\n")
        return found

    monkeypatch.setattr(preparse.Pieces, "result", result)
    fed = []
    real_feed = forked.Standby.feed
    monkeypatch.setattr(forked.Standby, "feed", lambda self, item: fed.append(item) or real_feed(self, item))
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    assert len(fed) >= 3 and "2024-10.beancount True" in log.read_text().split("\n")
    assert b"".join(piece for _, piece in fed) == (repo.root / "ledger" / RELATIVE).read_bytes()
    shutil_rm(repo.root)
    real_render = writer.render_invoice

    def off_by_a_cent(invoice, postings=None):  # A07's receivable a cent more than its lines
        text = real_render(invoice, postings=postings)
        if invoice.account != "A07":
            return text
        return re.sub(r"(Assets:Receivable:A07\s+)(\d+\.\d\d)", lambda m: m[1] + str(Decimal(m[2]) + CENT), text)

    monkeypatch.setattr(writer, "render_invoice", off_by_a_cent)
    outputs = []
    fed.clear()
    for feeding in (True, False):
        if not feeding:  # the check's child parses the month file itself, as before
            monkeypatch.setattr(forked.Standby, "feed", lambda self, item: None)
        log.write_text("")
        result = repo.run("bill", "2024-10", "--no-pdf")
        assert result.exit_code != 0 and not (repo.root / "ledger").exists()
        assert ("2024-10.beancount True" in log.read_text().split("\n")) == feeding
        outputs.append(result.output)
    text = b"".join(piece for _, piece in fed)  # what the first of them fed, as it would have been written
    line = text[:text.index(b"^A07-202410")].count(b"\n") + 1
    assert f"ledger/{RELATIVE}:{line}: " in outputs[0] and "does not balance" in outputs[0], outputs[0]
    assert line > 100 and outputs[0] == outputs[1]


def shutil_rm(root: Path) -> None:
    import shutil

    for name in ("ledger", "build", ".otb"):
        shutil.rmtree(root / name, ignore_errors=True)


def test_the_pieces_parse_as_beancount_does_from_a_bytes_buffer(tmp_path):
    """preparse.Pieces parses with Beancount's own parser and builder; parse_file of a buffer, under the name,
    is what the loader's parse of the path gives."""
    path = tmp_path / "a.beancount"
    path.write_bytes(b'2024-01-01 open Assets:Bank CAD\n\n2024-01-02 * "X"\n  Assets:Bank  1.00 CAD\n  Equity:Y\n')
    pieces = preparse.Pieces(tmp_path)
    pieces.add("a.beancount", path.read_bytes())
    _same(pieces.result(str(path)), parser.parse_file(io.BytesIO(path.read_bytes()), report_filename=str(path)))
