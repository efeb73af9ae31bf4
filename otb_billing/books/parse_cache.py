"""Beancount's parse of each ledger file, kept between otb commands by the file's bytes (.otb/cache/parsed/).

Every change otb makes is checked by a Beancount load of the whole would-be ledger, and parsing is about 40% of a
load; late in the year all the files but the one or two a command changes are the very bytes the last check
parsed. Unpickling a file's parse takes about a third of the time of parsing it (a month of 1,000 invoices:
0.05 s against 0.155 s), so the check's child (books/preparse.py) keeps each file's parse here, one per ledger
file, under a header of the SHA-1 of its bytes, the name it was parsed under (entries and errors carry it) and
the versions of Python, Beancount and otb. Anything else, or a file that cannot be read back, is a miss: parsed
as before. The parses of the misses are written by a child forked for it (forked.background) while the check
goes on, so a miss costs what it cost before this cache; a file being the same bytes is all a hit needs.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import marshal
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..filecache import code_version
from ..forked import background, room
from .versions import beancount_version

FOLDER = Path(".otb") / "cache" / "parsed"
FORMAT = 1
PARSED_PER_BYTE = 16  # memory a parsed ledger holds per byte of its files (1,000 clients x 12 months: about 9)


def _header(name: str, digest: bytes) -> bytes:
    return marshal.dumps((FORMAT, sys.version, beancount_version(), code_version(), name, digest))


def cache_path(root: Path, relative: str, for_check: bool = True) -> Path:
    """Where the parse of the ledger file `relative` (to ledger/) is kept: as the check names it (its shadow
    path), or as a load of the ledger itself does (`for_check=False`, see serving)."""
    return root / FOLDER / f"{relative}.pickle" if for_check else root / FOLDER / f"{relative}.ledger.pickle"


@contextlib.contextmanager
def answering(answer: Callable[[str], tuple | None]) -> Iterator[None]:
    """While inside, Beancount's parse_file, called as its loader calls it (a file's path, no encoding), answers
    with `answer(path)` unless that is None (then it parses)."""
    from beancount.parser import parser

    real_parse = parser.parse_file

    def parse_file(file, *args, **kwargs):
        if isinstance(file, str) and not args and set(kwargs) <= {"encoding"} and kwargs.get("encoding") is None:
            found = answer(file)
            if found is not None:
                return found
        return real_parse(file, *args, **kwargs)

    parser.parse_file = parse_file
    try:
        yield
    finally:
        parser.parse_file = real_parse


def serving(root: Path) -> contextlib.AbstractContextManager[None]:
    """While inside, Beancount's parse_file answers for the files under `root`/ledger from their kept parses
    (under their own names), and the parse of any other is kept: for the whole-ledger loads of this process
    (extract.load_books: a payment in another currency, a report after an edit by hand). Its writer is forked
    the moment the file is parsed, so it writes the parse as parsed: the load goes on to change what it was
    given (Beancount's loader sets the top file's `include` and merges the others' display contexts into it,
    and booking marks an interpolated posting in its metadata dict, shared with the parsed one). One writer at a
    time: a file parsed while one is still writing is kept by a later load (a first load of a 10,000-client
    year would otherwise have a dozen writers at once, each copying hundreds of MB)."""
    ledger = os.path.abspath(root / "ledger") + os.sep

    def answer(file: str) -> tuple | None:
        if not file.startswith(ledger):
            return None
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        kept = cache_path(root, file[len(ledger):].replace(os.sep, "/"), for_check=False)
        result, header = parse(data, file, kept)
        if header is not None:
            store(root, [(kept, header, result, len(data))], PARSED_PER_BYTE, alone=True)
        return result

    return answering(answer)


def parse(data: bytes, name: str, kept: Path) -> tuple[tuple, bytes | None]:
    """What `parser.parse_file` gives for a file holding `data`, reported as `name`: from `kept` if that holds
    the parse of these very bytes under this name, else parsed now. The second item is None on a hit, else
    the header to store the parse under (store)."""
    header = _header(name, hashlib.sha1(data).digest())
    with contextlib.suppress(Exception):  # absent, cut short, of another version: parsed below
        with open(kept, "rb") as handle:
            blob = handle.read()
        size = int.from_bytes(blob[:4], "little")
        if blob[4:4 + size] == header:
            return pickle.loads(memoryview(blob)[4 + size:]), None
    from beancount.parser import parser

    return parser.parse_file(io.BytesIO(data), report_filename=name), header


def store(root: Path, misses: list[tuple[Path, bytes, tuple, int]], per_byte: int, alone: bool = False) -> None:
    """Keep the parses of `misses` ((cache_path, header from parse, parse, bytes of the file)), written by a
    background child, which copies up to `per_byte` bytes of memory per byte of the files it writes: as many of
    them, in order, as there is memory for; the next check writes more (a 10,000-client year is 270 MB of
    ledger files)."""
    left = room()
    chosen, size = [], 0
    for miss in misses:
        if left is not None and size + per_byte * miss[3] >= left:
            break
        chosen.append(miss[:3])
        size += per_byte * miss[3]
    if chosen:
        background(lambda: _write_all(root, chosen), size, alone)


STALE_SECONDS = 600  # a temp file this old is a writer's that was killed


def _write_all(root: Path, misses: list[tuple[Path, bytes, tuple]]) -> None:
    """Each through `<name>.<pid>.writing` beside it, not .otb/tmp: the writer holds no lock (forked.background),
    and a writer still dying when the next command sweeps .otb/tmp must not leave its temp file there. Temp files
    of killed writers are removed here once they are old."""
    now = time.time()
    for path, header, result in misses:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{glob.escape(path.name)}.*.writing"):
            with contextlib.suppress(OSError):
                if now - stale.stat().st_mtime > STALE_SECONDS:
                    stale.unlink()
        temp = path.with_name(f"{path.name}.{os.getpid()}.writing")
        with open(temp, "wb") as out:
            out.write(len(header).to_bytes(4, "little"))
            out.write(header)
            pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, path)
