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
import marshal
import mmap
import os
import pickle
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from .core.errors import Problem, Source

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

    def __init__(self, lean: bool = False) -> None:
        self._entries: dict[tuple[str, str], tuple[tuple, Any, Any, list[Problem]]] = {}
        # lean (one command's run): a client file kept as the client it makes is not also kept parsed
        self.lean = lean
        self.home: tuple[Path, str] | None = None  # (repo, code version) of a persisted cache
        self.hits = 0
        self.misses = 0
        self.missed_kinds: set[str] = set()

    def read(self, kind: str, path: Path, depends: Any, problems: list[Problem], make: Callable[[list[Problem]], Any]):
        """`make(problems)` for this file, or what it gave the last time if the file and `depends` are the same."""
        key = (kind, os.path.abspath(path))
        stat = stat_key(path)
        entry = self._entries.get(key)
        if stat is not None and entry is not None and entry[0] == stat and entry[1] == depends:
            value = entry[2]
            if value is STORED:  # let go once unpacked (see below): read again
                value = _MISS
            elif isinstance(value, Packed):
                try:  # kept packed: the rows live only as long as the reader's caller needs them
                    value = CODECS[kind][1](marshal.loads(value.blob), depends)
                except Exception:  # noqa: BLE001  (a damaged or foreign entry: read the file instead)
                    value = _MISS
                else:
                    if self.lean and entry[2].stored:  # in the cache file already: the bytes can go
                        self._entries[key] = (stat, depends, STORED, entry[3])
            if value is not _MISS:
                self.hits += 1
                problems.extend(entry[3])
                return value
        self.misses += 1
        self.missed_kinds.add(kind)
        found: list[Problem] = []
        value = make(found)
        problems.extend(found)
        if stat is not None and stat == stat_key(path):  # not changed while it was read
            self._entries[key] = (stat, depends, value, found)
            if self.lean and kind == "client":
                self._entries.pop(("yaml", key[1]), None)
        else:
            self._entries.pop(key, None)
        return value

    def kept(self, kind: str, path: Path, depends: Any) -> bool:
        """Whether `read` would return the kept value for this file (no reading, no parsing)."""
        entry = self._entries.get((kind, os.path.abspath(path)))
        return (entry is not None and entry[0] == stat_key(path) and entry[1] == depends
                and entry[2] is not STORED)

    def holds_most(self, kind: str, folder: Path, pattern: str) -> bool:
        """Whether this cache holds, as they are now, at least half the files of `folder` matching `pattern` as
        `kind` (whatever they were read against)."""
        if not any(key[0] == kind for key in self._entries):  # nothing at all (a first run): no need to look
            return False
        files = list(folder.glob(pattern))
        held = 0
        for path in files:
            entry = self._entries.get((kind, os.path.abspath(path)))
            held += entry is not None and entry[0] == stat_key(path)
        return held * 2 >= len(files) > 0

    def snapshot(self) -> dict:
        return dict(self._entries)

    def read_since(self, before: dict, kinds: Collection[str]) -> dict:
        """The entries of `kinds` read since `snapshot()` gave `before`, for another process's `adopt_read`."""
        return {key: entry for key, entry in self._entries.items() if key[0] in kinds and before.get(key) is not entry}

    def adopt_read(self, entries: dict) -> None:
        """Keep what another process's `read_since` gave, as if read here (and to be stored as such)."""
        self._entries.update(entries)
        self.missed_kinds.update(key[0] for key in entries)
        if self.lean:  # a client kept, not its parsed file (as read() does)
            for kind, name in entries:
                if kind == "client":
                    self._entries.pop(("yaml", name), None)


_MISS = object()
STORED = object()  # an entry whose packed rows are in the cache file, no longer in memory (FileCache.read)


def kept(kind: str, path: Path, depends: Any) -> bool:
    """Whether the active cache holds this file as it is now (False without an active cache)."""
    return _ACTIVE is not None and _ACTIVE.kept(kind, path, depends)


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


PERSISTED_KINDS = ("yaml", "client", "priors")  # pickled
CACHE_FILE = Path(".otb") / "cache" / "inputs.pickle"  # in the repo's git-ignored working folder
PRIORS_FILE = Path(".otb") / "cache" / "priors.pickle"
# each file with the kinds it keeps: the month just billed adds its invoices to priors.pickle alone, without
# pickling the clients again (10,000 clients: 0.6 s, and the child doing it was the next month's largest process)
PICKLED_FILES = {CACHE_FILE: ("yaml", "client"), PRIORS_FILE: ("priors",)}
PACKED_FILE = Path(".otb") / "cache" / "exports.marshal"  # kinds with a codec: unpickling 75,000 export rows cost
# about what reading the CSVs does; as plain tuples through marshal they read back in a fraction of it

# kind -> (pack(value, depends) -> marshal-able, unpack(packed, depends) -> value), registered by the reader
CODECS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {}


def register_codec(kind: str, pack: Callable[[Any, Any], Any], unpack: Callable[[Any, Any], Any]) -> None:
    CODECS[kind] = (pack, unpack)


class Packed:
    """A value as its kind's codec packed it, marshalled: a few bytes per row instead of the row's objects, so the
    cache costs little memory; unpacked each time a reader asks for it."""

    __slots__ = ("blob", "stored", "at")

    def __init__(self, blob: bytes | memoryview, stored: bool = False, at: int | None = None) -> None:
        self.blob = blob
        self.stored = stored  # as it is in the packed cache file: a lean cache lets it go once unpacked
        self.at = at  # where `blob` begins in the cache file it is mapped from (_copy_mapped)


RACY_SECONDS = 2.0  # a file changed this recently may change again within one mtime tick: not kept between runs


def code_version() -> str:
    """What the cached values were made by: Python, and the size and mtime of every module of otb_billing."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for name in sorted(glob.glob(f"{package}/*.py") + glob.glob(f"{package}/*/*.py")):
        st = os.stat(name)
        digest.update(f"{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _load(root: Path, version: str) -> FileCache:
    cache = FileCache(lean=True)
    for name in PICKLED_FILES:
        with contextlib.suppress(Exception), open(root / name, "rb") as stored:  # missing, damaged or foreign:
            # a slower run. The code version first, on its own: after an upgrade the entries (0.3 s to unpickle at
            # 10,000 clients) are not read at all
            if pickle.load(stored) == version:
                entries = pickle.loads(stored.read())
                if isinstance(entries, dict):
                    cache._entries.update(entries)
    with contextlib.suppress(Exception):  # the same; the entries read before a damaged frame are kept
        for (kind, name, stat, depends, problems), blob, at in _frames(_mapped(root / PACKED_FILE), version):
            found = [Problem(None if file is None else Source(file, line), message, hint)
                     for file, line, message, hint in problems]
            cache._entries[(kind, name)] = (tuple(stat), depends, Packed(blob, stored=True, at=at), found)
    return cache


def _mapped(path: Path) -> mmap.mmap:
    """The file's bytes, mapped, not read: only the export rows a run unpacks are read from disk and held (the
    cache keeps every month's; a bill of the month after the one just billed held that month's 43 MB of rows at
    10,000 clients for nothing). Safe from writers: a cache file is always replaced, never rewritten in place."""
    with open(path, "rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _frames(data: bytes | mmap.mmap, version: str) -> Iterator[tuple[tuple, memoryview, int]]:
    """The entries of a packed cache file: (kind, path, stat, depends, problems), the marshalled rows, left
    marshalled, and where they begin in `data` (for _copy_mapped). The file: frames of an 8-byte length and a
    marshal blob; first the code version, then two frames per export file, its description and its rows."""
    view = memoryview(data)
    at = 0

    def frame() -> memoryview:
        nonlocal at
        size = int.from_bytes(view[at:at + 8], "little")
        found = view[at + 8:at + 8 + size]
        if len(found) != size:
            raise ValueError("a cut frame")
        at += 8 + size
        return found

    if marshal.loads(frame()) != version:
        return
    while at < len(view):
        meta = marshal.loads(frame())
        blob = frame()
        yield meta, blob, at - len(blob)


def _frame(out, blob: bytes | memoryview, at: int | None = None) -> None:
    """One frame; `at`: where `blob`, a view of a mapped file, begins in it (copied through _copy_mapped)."""
    out.write(len(blob).to_bytes(8, "little"))
    if at is not None and isinstance(blob, memoryview) and isinstance(blob.obj, mmap.mmap):
        _copy_mapped(out, blob.obj, at, len(blob))
    else:
        out.write(blob)


COPY_CHUNK = 1 << 20


def _copy_mapped(out, mapped: mmap.mmap, at: int, size: int) -> None:
    """Write `size` bytes of `mapped` from `at` a chunk at a time, each chunk's pages handed back to the kernel
    once written (they stay in its page cache): written whole, the month before's rows, only copied from the old
    cache file to the new one, stayed in this process's resident size (10,000 clients: 42 MiB, which made the
    child storing the cache in the month after the largest process of the bill)."""
    end = at + size
    while at < end:
        stop = min(at + COPY_CHUNK, end)
        out.write(mapped[at:stop])
        start = at - at % mmap.PAGESIZE
        with contextlib.suppress(AttributeError, OSError, ValueError):
            mapped.madvise(mmap.MADV_DONTNEED, start, stop - start)
        at = stop


def _settled(entry, now: int) -> bool:
    return now - entry[0][1] > RACY_SECONDS * 1e9


def _write(path: Path, data: bytes) -> None:
    """Through a temp file in .otb/tmp (swept by the next run if a kill leaves it); not fsynced: losing a cache
    file only costs one slower run."""
    temp = path.parent.parent / "tmp" / f"{path.name}.{os.getpid()}"
    temp.parent.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(data)
    os.replace(temp, path)


def _save(cache: FileCache, root: Path, version: str, missed: Collection[str]) -> None:
    """Write each pickled cache file that keeps one of the `missed` kinds (PICKLED_FILES)."""
    now = time.time_ns()
    clients = {name for kind, name in cache._entries if kind == "client"}
    for name, kinds in PICKLED_FILES.items():
        if not set(kinds) & set(missed):
            continue
        entries = {key: entry for key, entry in cache._entries.items()
                   if key[0] in kinds and _settled(entry, now)
                   and not (key[0] == "yaml" and key[1] in clients)}  # kept as a client: no parsed copy needed
        _write(root / name, pickle.dumps(version) + pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))


def _save_packed(cache: FileCache, path: Path, version: str) -> set[tuple[str, str]]:
    """Write every settled entry with a codec to the packed cache file; returns their keys. An entry this
    process let go once unpacked (STORED) is copied from the file as it was."""
    now = time.time_ns()
    temp = path.parent.parent / "tmp" / f"{path.name}.{os.getpid()}"
    temp.parent.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    before: dict[tuple[str, str], tuple[tuple, memoryview, int]] | None = None
    written = set()
    with open(temp, "wb") as out:
        _frame(out, marshal.dumps(version))
        for (kind, name), (stat, depends, value, problems) in cache._entries.items():
            if kind not in CODECS or not _settled((stat,), now):
                continue
            blob: bytes | memoryview
            at: int | None
            if value is STORED:
                if before is None:
                    before = _stored_blobs(path, version)
                found = before.get((kind, name))
                if found is None or found[0] != tuple(stat):
                    continue  # gone from the file meanwhile: read from its CSV next time
                blob, at = found[1], found[2]
            elif isinstance(value, Packed):
                blob, at = value.blob, value.at
            else:
                blob, at = marshal.dumps(CODECS[kind][0](value, depends)), None
            shown = [(p.source.file if p.source else None, p.source.line if p.source else 0, p.message, p.hint)
                     for p in problems]
            _frame(out, marshal.dumps((kind, name, stat, depends, shown)))
            _frame(out, blob, at)
            written.add((kind, name))
    os.replace(temp, path)
    return written


def _stored_blobs(path: Path, version: str) -> dict[tuple[str, str], tuple[tuple, memoryview, int]]:
    """(kind, path) -> (stat, packed rows, where they begin) of the packed cache file as it is, mapped."""
    try:
        return {(meta[0], meta[1]): (tuple(meta[2]), blob, at) for meta, blob, at in _frames(_mapped(path), version)}
    except (OSError, ValueError, EOFError, TypeError, IndexError):
        return {}


@contextlib.contextmanager
def persisted(root: Path, defer_packed: bool = False) -> Iterator[FileCache | None]:
    """Readers in this block use the repo's stored cache (if this very code made it), which is saved again
    afterwards if anything was read anew. Inside an active cache (`otb watch`, an outer block) this does nothing.

    With `defer_packed`, nothing is stored at the end of the block but by `save_pending()`: `otb bill` calls it
    while the other core checks the new ledger, when this process would otherwise wait (10,000 clients: 0.4 s to
    pickle the clients, 0.1 s to store the export rows)."""
    if _ACTIVE is not None:
        yield None
        return
    version = code_version()
    cache = _load(root, version)
    cache.home = (root, version)
    try:
        with caching(cache):
            yield cache
    except Exception:  # bad input raises InputErrors: what was read is still worth keeping
        _save_quietly(cache, root, version)
        raise
    if not defer_packed:
        _save_quietly(cache, root, version)
    else:
        _pack_in_place(cache)  # the rows themselves can go now: billing is done with them
        _PENDING[:] = [(cache, root, version)]


def store_ahead(cache: FileCache | None, start: Callable[[Callable[[], None]], bool]) -> None:
    """Have `start` (forked.background) store what a persisted `cache` read anew, as it is now, in a child: the
    parsed YAML, clients and ledger priors, and the export rows packed (unless store_rows_ahead did). `otb bill`
    does so once its inputs are read, on the core its billing leaves idle (10,000 clients: 0.4 s to pickle the
    clients). If the child was started, the end of the persisted() block stores only what is read meanwhile;
    else everything is stored there, as usual."""
    _store_in_child(cache, start, set(PERSISTED_KINDS) | set(CODECS))


def store_rows_ahead(cache: FileCache | None, start: Callable[[Callable[[], None]], bool]) -> None:
    """Have `start` (forked.background) pack and store the export rows a persisted `cache` read anew, in a child
    forked now: `otb bill` does so as soon as it has read the CSVs, while the client files are still being read
    (10,000 clients: 0.5 s of packing, by a child forked before this process holds the clients too). If the child
    was started, this process lets the rows go from the cache at once: the caller holds them, and the billing
    drops each client's rows once billed."""
    _store_in_child(cache, start, set(CODECS))


def _store_in_child(cache: FileCache | None, start: Callable[[Callable[[], None]], bool], kinds: set[str]) -> None:
    """What store_ahead and store_rows_ahead share: `kinds` read anew stored by the child `start` forks (its copy
    of the cache still says what was missed), and no longer here."""
    if cache is None or cache.home is None or not cache.missed_kinds & kinds:
        return
    root, version = cache.home
    if start(lambda: _save_quietly(cache, root, version, kinds)):
        cache.missed_kinds -= kinds
        _let_rows_go(cache)


def _let_rows_go(cache: FileCache) -> None:
    """Export rows a child is storing: no longer held by the cache (read again if asked for: see STORED)."""
    for key, (stat, depends, value, problems) in list(cache._entries.items()):
        if key[0] in CODECS and not isinstance(value, Packed) and value is not STORED:
            cache._entries[key] = (stat, depends, STORED, problems)


def _pack_in_place(cache: FileCache) -> None:
    """Export rows read anew, kept as their packed tuples instead of the rows (less memory while the bill's
    outputs are rendered; what save_pending writes)."""
    for key, (stat, depends, value, problems) in list(cache._entries.items()):
        if key[0] in CODECS and not isinstance(value, Packed) and value is not STORED:
            try:
                blob = marshal.dumps(CODECS[key[0]][0](value, depends))
            except ValueError:  # rows the codec cannot pack (or marshal cannot write): not kept
                del cache._entries[key]
            else:
                cache._entries[key] = (stat, depends, Packed(blob), problems)


_PENDING: list[tuple[FileCache, Path, str]] = []  # caches of persisted(defer_packed=True), for save_pending()


def save_pending() -> None:
    """Store what a `persisted(defer_packed=True)` block read anew (once; nothing if none)."""
    while _PENDING:
        _save_quietly(*_PENDING.pop())


def _save_quietly(cache: FileCache, root: Path, version: str, kinds: Collection[str] | None = None) -> None:
    """Write the cache files of what was read anew (of `kinds` only, if given); a failure only costs a slower
    next run."""
    missed = cache.missed_kinds if kinds is None else cache.missed_kinds & set(kinds)
    with contextlib.suppress(OSError, ValueError):  # ValueError: a value marshal cannot write (a codec's bug)
        if missed & set(PERSISTED_KINDS):
            _save(cache, root, version, missed)
        if missed & set(CODECS):
            _save_packed(cache, root / PACKED_FILE, version)
