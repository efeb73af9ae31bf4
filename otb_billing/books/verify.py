"""Check a change to the ledger before any file of it is replaced: Beancount loads the ledger as it would be.

The would-be ledger is a shadow folder (`.otb/shadow/ledger`) of symbolic links: changed files point to their
staged new bytes, everything else to the real files, so the check costs one Beancount load and no copying. The
plugin runs too, so what `bean-check` and Fava would say about the result is known before anything is written.

A ledger that passed is remembered by a signature of its files (name, size, mtime, inode), so a command that does
not otherwise load the whole ledger (`otb bill`) can refuse a hand-broken ledger without loading it every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.errors import Problem, Source
from ..gcpause import paused
from . import preparse, writer
from .versions import beancount_version

SHADOW = Path(".otb") / "shadow"
VERIFIED = Path(".otb") / "verified"


def _group(changes: dict[str, Path | None]) -> dict[str, dict[str, Path | None]]:
    """{'a/b/c': x} -> {'a': {'b/c': x}}; a change of the name itself is under the key ''."""
    groups: dict[str, dict[str, Path | None]] = {}
    for relative, staged in changes.items():
        first, _, rest = relative.partition("/")
        groups.setdefault(first, {})[rest] = staged
    return groups


def _mirror(real: Path, shadow: Path, changes: dict[str, Path | None]) -> None:
    """`shadow` shows `real` with `changes` applied: unchanged folders and files are links to the real ones."""
    if not changes:
        if real.exists():
            shadow.symlink_to(real.resolve(), target_is_directory=real.is_dir())
        return
    shadow.mkdir(parents=True, exist_ok=True)
    groups = _group(changes)
    # never Beancount's pickle cache (`.main.beancount.picklecache`): a loader that finds it beside the shadow
    # main.beancount takes the ledger as it was from it, since the unchanged files it names are no newer
    names = {name for name in os.listdir(real) if not _beancount_cache(name)} if real.is_dir() else set()
    for name in sorted(names | set(groups)):
        sub = groups.get(name, {})
        if "" in sub:  # the file itself changes
            staged = sub[""]
            if staged is not None:
                (shadow / name).symlink_to(staged.resolve())
            continue
        _mirror(real / name, shadow / name, sub)


def _beancount_cache(name: str) -> bool:
    return name.startswith(".") and name.endswith(".picklecache")


def _source(meta, shadow_root: Path, root: Path) -> Source:
    if not meta:
        return Source("ledger")
    filename = str(meta.get("filename", "ledger"))
    for base in (shadow_root, root):
        prefix = str(base) + os.sep
        if filename.startswith(prefix):
            filename = filename[len(prefix):]
            break
    return Source(filename, meta.get("lineno", 0) or 0)


def check_change(root: Path, staged: dict[str, Path | None], parsed: preparse.Parsed | None = None,
                 on_pass: Callable[[list], object] | None = None, pieces: preparse.Pieces | None = None
                 ) -> list[Problem]:
    """What bean-check (with the otb plugin) would report on the ledger with `staged` applied.

    `staged` maps paths relative to the repo to the staged new file (None: deleted). Changes outside ledger/
    are not the ledger's business and are ignored. `parsed`: the ledger's files parsed ahead (books/preparse.py);
    those still the same are not parsed again. `on_pass(entries)` is called with the loaded entries when there
    is nothing to report. `pieces`: a changed file parsed as it was rendered (preparse.Pieces).
    """
    changes = {rel.removeprefix("ledger/"): path for rel, path in staged.items() if rel.startswith("ledger/")}
    if not changes:
        return []
    root = root.resolve()
    shadow_root = root / SHADOW
    shutil.rmtree(shadow_root, ignore_errors=True)
    try:
        _mirror(root / "ledger", shadow_root / "ledger", changes)
        main = shadow_root / "ledger" / "main.beancount"
        if not main.exists():
            return [Problem(Source("ledger/main.beancount"), "the change would leave no main.beancount")]
        # without the cyclic collector: it walked the growing heap again and again, a quarter of the load
        # (1,000 clients x 12 months: 4.2 -> 3.2 s, the same peak memory: Beancount's entries hold no cycles)
        with preparse.serving(parsed, root / "ledger", shadow_root / "ledger", set(changes), pieces), paused():
            entries, errors, _ = load_uncached(main)
        if not errors and on_pass is not None:
            on_pass(entries)
        return [Problem(_source(e.source, shadow_root, root),
                        "bean-check: " + str(e.message).replace(str(shadow_root) + os.sep, ""))
                for e in errors]
    finally:
        shutil.rmtree(shadow_root, ignore_errors=True)


def pieces_ahead(root: Path) -> preparse.Pieces:
    """For a changed ledger file's bytes fed as they are rendered, parsed as check_change will name it."""
    return preparse.Pieces(root.resolve() / SHADOW / "ledger")


def parse_ahead(root: Path) -> preparse.Parsed:
    """The ledger's files parsed now as check_change will name them, for its `parsed`."""
    root = root.resolve()
    return preparse.preparse(root / "ledger", root / SHADOW / "ledger", root)


PLUGIN_LINE = re.compile(r'^plugin\s+"([^"]+)"', re.MULTILINE)


def import_plugins(root: Path) -> None:
    """Import ahead the modules the check's load will import for its plugins (Beancount's own, and those named
    in main.beancount or that otb writes there), for a child waiting for its change: the import is otherwise
    part of the check (`fava.plugins.link_documents` brings Flask: 0.27 s). Anything that fails to import is
    left for the load to report."""
    from beancount import loader

    names = [name for name, _ in (*loader.PLUGINS_PRE, *loader.PLUGINS_POST)]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        names += PLUGIN_LINE.findall((root / "ledger" / "main.beancount").read_text(encoding="utf-8"))
    names += PLUGIN_LINE.findall("\n".join((writer.PLUGIN, writer.LINK_DOCUMENTS)))
    for name in dict.fromkeys(names):
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def load_uncached(main: Path):
    """loader.load_file without Beancount's pickle cache: a load over a second pickles every entry next to the
    file, where it is of no use to a check (the shadow folder is deleted right after: 10,000 clients, 2.4 s on top
    of a 7.8 s load) or to a command about to change the ledger (extract.load_books). The private loader is used
    only if it takes the arguments it took in Beancount 3.2; otherwise the public one. An absolute path, as
    load_file makes it."""
    from beancount import loader

    global _UNCACHED
    filename = os.path.abspath(main)
    if _UNCACHED is _UNSET:
        _UNCACHED = _private_uncached_loader()
    if _UNCACHED is not None:
        return _UNCACHED(filename, log_timings=None, extra_validations=None, encoding=None)
    return loader.load_file(filename)


def _private_uncached_loader():
    import inspect

    from beancount import loader

    function, inner = getattr(loader, "_uncached_load_file", None), getattr(loader, "_load", None)
    if function is None or inner is None:
        return None
    try:  # checked once, by signature: a TypeError from a plugin mid-load must not start a second load
        inspect.signature(inner).bind([("main", True)], log_timings=None, extra_validations=None, encoding=None)
    except TypeError:
        return None
    return function


_UNSET = object()
_UNCACHED: Any = _UNSET  # the private loader, or None for the public one: found at the first load


def _versions() -> str:
    """otb's and Beancount's versions, without importing either (importlib.metadata cost 10–40 ms to import, at
    the end of every command that changes the ledger; Beancount 40–70 ms, books/versions.py)."""
    import otb_billing  # the package's own version: no part of it is imported

    return f"{otb_billing.__version__}|{beancount_version()}"


def signature(ledger: Path) -> str:
    """The ledger's files as the file system sees them (names, sizes, mtimes, ctimes, inodes) and the versions of
    otb and Beancount: the same signature means the same bean-check result."""
    digest = hashlib.sha256(_versions().encode())
    for folder, dirs, names in os.walk(ledger):
        dirs.sort()
        for name in sorted(names):
            if name.startswith("."):  # Beancount's own pickle cache, editors' swap files
                continue
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            stamp = f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
            digest.update(f"{os.path.relpath(path, ledger)}|{stamp}\n".encode())
    return digest.hexdigest()


def known_good(root: Path) -> bool:
    """True when the ledger has not changed since otb last saw it pass bean-check."""
    try:
        return (root / VERIFIED).read_text(encoding="ascii") == signature(root / "ledger")
    except FileNotFoundError:
        return False


def remember_good(root: Path) -> None:
    """Record that the ledger as it is now passes bean-check (a plain write: losing it only costs a re-check)."""
    path = root / VERIFIED
    temp = root / ".otb" / "tmp" / f"verified.{os.getpid()}"
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_text(signature(root / "ledger"), encoding="ascii")
    os.replace(temp, path)


HALF_CENT = Decimal("0.005")  # what Beancount's default tolerance lets a transaction of cents be off by


def check_entries(texts: list[str], opened: set[str]) -> list[Problem]:
    """A quick check of new invoice entries, for `otb watch`'s refreshes: each one parses, balances within half a
    cent, and posts only to open accounts. The next other otb command checks the whole ledger again (a watch
    refresh does not record it as known good), so this only has to catch what a refresh itself could get wrong."""
    from beancount.core import data, interpolate
    from beancount.parser import parser

    entries, errors, _ = parser.parse_string("\n\n".join(texts))
    problems = [Problem(None, f"bean-check: {e.message}") for e in errors]
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        residual = interpolate.compute_residual(entry.postings)
        if not residual.is_small(HALF_CENT):
            problems.append(Problem(None, f"bean-check: transaction {sorted(entry.links)} does not balance "
                                          f"({residual})"))
        for posting in entry.postings:
            if posting.account not in opened:
                problems.append(Problem(None, f"bean-check: {posting.account} is not open"))
    return problems

