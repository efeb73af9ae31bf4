"""Reading the same unchanged file twice: what a reader made of a file, kept by its stat.

With `caching()` active the readers skip every file whose stat (size, mtime, ctime, inode) is the one they read,
returning the value they made of it and replaying the problems they found in it, so that one client edit in a
1,000-client repo costs one file's parse instead of a thousand. `otb watch` keeps one in memory for its whole run;
every other command reads the YAML through `persisted()`, a cache kept in `.otb/cache/` between runs (as Beancount
keeps its pickle cache beside a ledger): billing a month again reads only the files edited since.

A value is only reused when the other inputs it was made from are equal too (`depends`: the settings and plans a
client file is read against, the time zone and number format of an export).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .core.errors import Problem

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
        self.missed_kinds: set[str] = set()

    def read(self, kind: str, path: Path, depends: Any, problems: list[Problem], make: Callable[[list[Problem]], Any]):
        """`make(problems)` for this file, or what it gave the last time if the file and `depends` are the same."""
        key = (kind, os.path.abspath(path))
        stat = stat_key(path)
        entry = self._entries.get(key)
        if stat is not None and entry is not None and entry[0] == stat and entry[1] == depends:
            self.hits += 1
            problems.extend(entry[3])
            return entry[2]
        self.misses += 1
        self.missed_kinds.add(kind)
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


PERSISTED_KINDS = ("yaml", "client", "priors")  # not exports: unpickling rows costs about what reading them does
CACHE_FILE = Path(".otb") / "cache" / "inputs.pickle"  # in the repo's git-ignored working folder
RACY_SECONDS = 2.0  # a file changed this recently may change again within one mtime tick: not kept between runs


def code_version() -> str:
    """What the cached values were made by: Python, and the size and mtime of every module of otb_billing."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for name in sorted(glob.glob(f"{package}/*.py") + glob.glob(f"{package}/*/*.py")):
        st = os.stat(name)
        digest.update(f"{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _load(path: Path, version: str) -> FileCache:
    cache = FileCache()
    try:
        with open(path, "rb") as handle:
            stored_version, entries = pickle.load(handle)
    except FileNotFoundError:
        return cache
    except Exception:  # noqa: BLE001  (a damaged or foreign cache file is only a slower run)
        return cache
    if stored_version == version and isinstance(entries, dict):
        cache._entries = entries
    return cache


def _save(cache: FileCache, path: Path, version: str) -> None:
    """Write the cache through a temp file in .otb/tmp (swept by the next run if a kill leaves it)."""
    now = time.time_ns()
    entries = {key: entry for key, entry in cache._entries.items()
               if key[0] in PERSISTED_KINDS and now - entry[0][1] > RACY_SECONDS * 1e9}
    temp = path.parent.parent / "tmp" / f"{path.name}.{os.getpid()}"
    temp.parent.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temp, "wb") as handle:
        pickle.dump((version, entries), handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temp, path)  # not fsynced: losing it only costs one slower run


@contextlib.contextmanager
def persisted(root: Path) -> Iterator[FileCache | None]:
    """Readers in this block use the repo's stored cache (if this very code made it), which is saved again
    afterwards if anything was read anew. Inside an active cache (`otb watch`, an outer block) this does nothing."""
    if _ACTIVE is not None:
        yield None
        return
    path = root / CACHE_FILE
    version = code_version()
    cache = _load(path, version)
    try:
        with caching(cache):
            yield cache
    except Exception:  # bad input raises InputErrors: what was read is still worth keeping
        _save_quietly(cache, path, version)
        raise
    _save_quietly(cache, path, version)


def _save_quietly(cache: FileCache, path: Path, version: str) -> None:
    if cache.missed_kinds & set(PERSISTED_KINDS):
        with contextlib.suppress(OSError):
            _save(cache, path, version)
