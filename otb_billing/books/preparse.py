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
import os
import time
from pathlib import Path

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


def serving(parsed: Parsed | None, ledger: Path, shadow: Path, changed: set[str]
            ) -> contextlib.AbstractContextManager[None]:
    """While inside, Beancount's parse_file answers with the kept result for a file under `shadow` whose path
    relative to it is not in `changed` and whose real file under `ledger` has the stat it had when parsed."""
    if not parsed:
        return contextlib.nullcontext()
    prefix = str(shadow) + os.sep

    def answer(file: str) -> tuple | None:
        kept = parsed.pop(os.path.normpath(file), None)
        if kept is not None and file.startswith(prefix):
            relative = file[len(prefix):]
            if relative not in changed and _stat(ledger / relative) == kept[0]:
                return kept[1]
        return None

    return parse_cache.answering(answer)
