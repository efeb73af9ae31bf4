"""Reading the same unchanged file twice, for `otb watch`: what a reader made of a file, kept by its stat.

A plain command reads every file once and never turns this on. `otb watch` re-reads the repo after each save;
with `caching()` active the readers skip every file whose stat (size, mtime, ctime, inode) is the one they read,
returning the value they made of it and replaying the problems they found in it, so that one client edit in a
1,000-client repo costs one file's parse instead of a thousand.

A value is only reused when the other inputs it was made from are equal too (`depends`: the settings and plans a
client file is read against, the time zone and number format of an export).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.errors import Problem

_ACTIVE: FileCache | None = None


def stat_key(path: Path) -> tuple | None:
    """What tells one version of a file from the next; None when it cannot be stat'ed (absent, a dangling link)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


class FileCache:
    """(kind, path) -> (stat, depends, value, problems found)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[tuple, Any, Any, list[Problem]]] = {}
        self.hits = 0
        self.misses = 0

    def read(self, kind: str, path: Path, depends: Any, problems: list[Problem], make: Callable[[list[Problem]], Any]):
        """`make(problems)` for this file, or what it gave the last time if the file and `depends` are the same."""
        key = (kind, str(path))
        stat = stat_key(path)
        entry = self._entries.get(key)
        if stat is not None and entry is not None and entry[0] == stat and entry[1] == depends:
            self.hits += 1
            problems.extend(entry[3])
            return entry[2]
        self.misses += 1
        found: list[Problem] = []
        value = make(found)
        problems.extend(found)
        if stat is not None and stat == stat_key(path):  # not changed while it was read
            self._entries[key] = (stat, depends, value, found)
        else:
            self._entries.pop(key, None)
        return value


def cached(kind: str, path: Path, depends: Any, problems: list[Problem], make: Callable[[list[Problem]], Any]):
    """`make(problems)`, through the active cache if there is one."""
    if _ACTIVE is None:
        return make(problems)
    return _ACTIVE.read(kind, path, depends, problems, make)


@contextlib.contextmanager
def caching(cache: FileCache) -> Iterator[FileCache]:
    """Readers called inside this block use `cache`."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, cache
    try:
        yield cache
    finally:
        _ACTIVE = previous
