"""The ledger's files parsed ahead of the check, by the check's own child while `otb bill` bills.

The check of a new month loads the whole would-be ledger with Beancount (books/verify.py); parsing is a third of
that load, and in December eleven of the twelve month files it parses have not changed. `otb bill` forks the
check's child when it starts (forked.Standby), and the child would otherwise wait for the staged files doing
nothing while this process reads, bills and renders. So it parses every ledger file as it is now, under the name
the check will give it (its path in the shadow folder), and the check takes those results for the files that
are still the same (same stat, no staged change) instead of parsing them again. Whatever changed, or changed
since, is parsed in the check as before; a result is used once.

Beancount's loader calls `parser.parse_file(filename, encoding=...)` for every file it includes; `serving`
answers those calls for the kept files, for the length of one load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

from ..gcpause import paused
from . import parse_cache

RACY_SECONDS = 2.0  # a file written this recently may be written again within one mtime tick: parse it in the check

Parsed = dict[str, tuple[tuple, tuple]]  # shadow path -> (the real file's stat when parsed, parse_file's result)


def _stat(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def preparse(ledger: Path, shadow: Path, root: Path) -> Parsed:
    """Every .beancount file under `ledger`, parsed as if it were at the same place under `shadow`, through the
    parse cache of the repo `root` (books/parse_cache.py): a file of the same bytes as at the last check is read
    back from there, and the parses of the others are kept there for the next one."""
    found: Parsed = {}
    if not ledger.is_dir():
        return found
    misses: list[tuple[Path, bytes, tuple, int]] = []
    with paused():  # as for the check's load (verify.check_change): 1.1 -> 0.4 s reading back 12 months
        for path in sorted(ledger.rglob("*.beancount")):
            before = _stat(path)
            if before is None or time.time_ns() - before[1] < RACY_SECONDS * 1e9:
                continue
            relative = path.relative_to(ledger).as_posix()
            name = os.path.normpath(shadow / relative)
            kept = parse_cache.cache_path(root, relative)
            try:
                data = path.read_bytes()
                result, header = parse_cache.parse(data, name, kept)
            except (OSError, ValueError):  # gone or unreadable now: the check says what it finds
                continue
            if _stat(path) == before:
                found[name] = (before, result)
                if header is not None:
                    misses.append((kept, header, result, len(data)))
    parse_cache.store(root, misses, parse_cache.PARSED_PER_BYTE)
    return found


class Pieces:
    """A new ledger file parsed piece by piece as its bytes are rendered, before it is staged: otb bill's month
    file, fed to the check's child (forked.Standby.feed) while the billing process renders the rest of it, so
    that the check does not begin with parsing all of it (1,000 clients: 0.15–0.18 s of the check's 0.5 s, while
    the billing process rendered and the outputs' child wrote CSVs).

    The pieces go through one Beancount parser state (grammar.Builder), each from the line where the one before
    ended, which is what parsing the file whole does: the same entries, line numbers, display context and options.
    The check takes the result (`result`) only for a staged file whose bytes begin with every piece fed (checked
    by digest); the rest of it is parsed then, still in the same state. A piece that leaves a parse error, a
    file of other bytes, a second file: the check parses the file whole, as before."""

    def __init__(self, shadow: Path) -> None:
        self._shadow = shadow  # the check's shadow ledger (verify.SHADOW): the name entries are parsed under
        self._relative: str | None = None
        self._builder: Any = None
        self._entries: list = []
        self._digest = hashlib.sha1()
        self._size = 0
        self._lines = 1  # the line the next piece begins on
        self._broken = False

    def add(self, relative: str, data: bytes) -> None:
        """Parse the next piece of the file `relative` (to ledger/); pieces come in order, from its first byte."""
        if self._broken:
            return
        if self._relative is None:
            from beancount.parser import grammar

            self._relative, self._builder = relative, grammar.Builder()
        elif relative != self._relative:
            self._broken = True
            return
        self._parse(data)
        self._digest.update(data)
        self._size += len(data)

    def _parse(self, data: bytes) -> None:
        from beancount.parser import _parser  # type: ignore[attr-defined]  # the C parser parse_file uses

        builder = self._builder
        with paused(freeze=True):  # what it parsed lives as long as the child: never walked by a collection
            _parser.Parser(builder).parse(io.BytesIO(data), filename=self.name, lineno=self._lines)
        self._entries.extend(builder.entries)  # each parse leaves only its own entries there
        builder.entries = []
        self._lines += data.count(b"\n")
        if builder.errors:  # a piece may end inside what the next one finishes: only the whole file says
            self._broken = True

    @property
    def name(self) -> str:
        return os.path.normpath(self._shadow / (self._relative or ""))

    def result(self, file: str) -> tuple | None:
        """parse_file's result for the staged file `file` (its path in the shadow folder), or None if the pieces
        are not its beginning (then it is parsed as usual). Used once."""
        if self._broken or self._relative is None or os.path.normpath(file) != self.name:
            return None
        self._broken = True  # used once
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        if hashlib.sha1(memoryview(data)[:self._size]).digest() != self._digest.digest():
            return None
        if len(data) > self._size:
            self._broken = False
            self._parse(data[self._size:])
            if self._broken:
                return None
        builder, self._builder, self._broken = self._builder, None, True
        builder.entries, self._entries = self._entries, []
        return builder.finalize()


def serving(parsed: Parsed | None, ledger: Path, shadow: Path, changed: set[str], pieces: Pieces | None = None
            ) -> contextlib.AbstractContextManager[None]:
    """While inside, Beancount's parse_file answers with the kept result for a file under `shadow` whose path
    relative to it is not in `changed` and whose real file under `ledger` has the stat it had when parsed; and
    for a changed one, with what `pieces` parsed of it, if they are its beginning."""
    if not parsed and pieces is None:
        return contextlib.nullcontext()
    prefix = str(shadow) + os.sep

    def answer(file: str) -> tuple | None:
        kept = parsed.pop(os.path.normpath(file), None) if parsed else None
        if kept is not None and file.startswith(prefix):
            relative = file[len(prefix):]
            if relative not in changed and _stat(ledger / relative) == kept[0]:
                return kept[1]
        return pieces.result(file) if pieces is not None else None

    return parse_cache.answering(answer)
