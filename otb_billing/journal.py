"""One recoverable unit of change for a billing repo: staged, checked, committed, applied, and completed by the
next run if a crash stops it half way.

A command that changes the books hands `commit()` every file it changes (new bytes, or None to delete):

1. Stage: each new file is written and fsynced under `.otb/txn/`. Nothing in the repo has changed yet.
2. Check: the caller's `check` sees the staged files (for the ledger: Beancount loads the would-be ledger from a
   shadow folder, see books/verify.py). A problem stops here: the staging is thrown away, nothing was written.
3. Commit: `.otb/txn/journal.json` is written atomically. From this moment the change will happen.
4. Apply: each staged file is renamed over its target (`os.replace`), deletions are unlinked, folders fsynced.
5. Done: the journal is removed, then the staging folder.

`repo_lock()` runs `recover()` before any command does anything: a change that crashed before step 3 is thrown
away (the repo is exactly as before), one that crashed after it is completed (exactly as after). Temp files of
killed runs are swept away at the same time. See docs/DECISIONS.md, "Files and safety".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from . import faults, forked
from .core.errors import InputErrors, Problem, Source

STATE = ".otb"  # the repo's working folder for otb itself: git-ignored, never holds anything of value
JOURNAL = "journal.json"

Content = bytes | str | None  # None: delete the file


class Busy(Exception):
    """Another otb run holds the repo's lock."""


def state_dir(root: Path) -> Path:
    return root / STATE


def _bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str | None:
    return _compare(path, None)[0]


COMPARE_CHUNK = 1 << 20


def _compare(path: Path, data: bytes | None) -> tuple[str | None, bool]:
    """The SHA-256 of the file at `path` (None: there is none) and whether it holds exactly `data`, read a chunk
    at a time: a rebill's month file (11 MB at 10,000 clients) is not held beside its new bytes."""
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError):
        return None, False
    digest = hashlib.sha256()
    view = memoryview(data if data is not None else b"")
    same = data is not None
    at = 0
    with handle:
        while chunk := handle.read(COMPARE_CHUNK):
            digest.update(chunk)
            if same:
                same = view[at:at + len(chunk)] == chunk
            at += len(chunk)
    return digest.hexdigest(), same and at == len(view)


def _fsync_dir(folder: Path) -> None:
    faults.point("fsync", folder)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes, mode: int | None = None) -> None:
    with open(path, "wb") as handle:
        if mode is not None:
            os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        faults.point("fsync", path)
        os.fsync(handle.fileno())


def mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual ones (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        raise ValueError(f"{path} is outside the billing repo {root}") from None


def replace_into(source: Path, target: Path) -> None:
    """os.replace, or a synced copy beside the target when the two are on different file systems."""
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
    faults.point("replace", target)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = target.parent / f".{target.name}.otb-tmp"
        _write_synced(temp, source.read_bytes(), mode_for(target))
        faults.point("replace", target)
        os.replace(temp, target)
        faults.point("unlink", source)
        source.unlink()


Check = Callable[[dict[str, Path | None]], list[Problem]]


class Ahead(Protocol):
    """A check done by a child forked earlier (jobs/ledger_edit.LedgerCheck over forked.Standby)."""

    def beside(self, staged: dict[str, str | None], meanwhile: Callable[[], object]) -> list[Problem]: ...


def commit(root: Path, files: Mapping[Path, Content], check: Check | None = None, label: str = "",
           meanwhile: Callable[[], object] | None = None, ahead: Ahead | None = None) -> list[str]:
    """Apply every change in `files` as one unit, or none of them; returns the relative paths that changed.

    `check` gets {relative path: staged file, or None for a deletion} and returns problems; any problem means
    nothing is written and InputErrors is raised. Files whose content would not change are left out.
    `meanwhile` (work that writes nothing, such as rendering the outputs written after the commit) runs while a
    forked child does the check; it runs once in any case, before anything is committed. `ahead`: a child forked
    earlier to do `check` (given the staged paths as text); it is used instead of a new one.
    """
    root = Path(root)
    txn = state_dir(root) / "txn"
    if txn.exists():  # a leftover that recover() did not see (a caller without the lock): never mix two changes
        recover(root)
    entries: list[dict] = []
    staged: dict[str, Path | None] = {}
    txn.mkdir(parents=True)
    try:
        for number, (path, content) in enumerate(files.items(), 1):
            target = path if path.is_absolute() else root / path
            relative = _relative(root, target)
            data = None if content is None else _bytes(content)
            old, same = _compare(target, data)
            if same or (data is None and old is None):
                continue
            if data is None:
                entries.append({"path": relative, "staged": None, "old": old, "new": None})
                staged[relative] = None
                continue
            name = f"{number:05d}"
            _write_synced(txn / name, data, mode_for(target))
            entries.append({"path": relative, "staged": name, "old": old, "new": _sha(data)})
            staged[relative] = txn / name
            del data  # a big month file's bytes are not kept through the check
        if not entries:
            _discard(txn)
            if meanwhile is not None:
                meanwhile()
            return []
        if ahead is not None:  # the check, by a child forked when the run began
            problems = ahead.beside({path: None if file is None else str(file) for path, file in staged.items()},
                                    meanwhile or (lambda: None))
        elif check is not None and meanwhile is not None:
            problems = forked.beside(lambda: check(staged), meanwhile)
        else:
            if meanwhile is not None:
                meanwhile()
            problems = check(staged) if check is not None else []
        if problems:
            raise InputErrors(problems)
        _fsync_dir(txn)
        journal = txn / (JOURNAL + ".part")
        _write_synced(journal, json.dumps({"label": label, "files": entries}, indent=1).encode("utf-8"))
        faults.point("replace", txn / JOURNAL)
        os.replace(journal, txn / JOURNAL)  # the commit point
        _fsync_dir(txn)
    except BaseException:
        if not (txn / JOURNAL).exists():
            _discard(txn)
        raise
    _apply(root, txn, entries)
    return [entry["path"] for entry in entries]


def trial(root: Path, files: Mapping[Path, Content], check: Check) -> list[Problem]:
    """What `check` says about `files`, without committing anything (the staging is thrown away)."""
    scratch = state_dir(root) / "tmp" / f"trial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        staged: dict[str, Path | None] = {}
        for number, (path, content) in enumerate(files.items(), 1):
            target = path if path.is_absolute() else root / path
            if content is None:
                staged[_relative(root, target)] = None
                continue
            (scratch / f"{number:05d}").write_bytes(_bytes(content))
            staged[_relative(root, target)] = scratch / f"{number:05d}"
        return check(staged)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _apply(root: Path, txn: Path, entries: list[dict]) -> None:
    folders = set()
    for entry in entries:
        target = root / entry["path"]
        if entry["staged"] is None:
            if target.exists():
                faults.point("unlink", target)
                target.unlink()
        else:
            source = txn / entry["staged"]
            if source.exists():
                replace_into(source, target)
        folders.add(target.parent)
    for folder in sorted(folders):
        if folder.is_dir():
            _fsync_dir(folder)
    faults.point("unlink", txn / JOURNAL)
    (txn / JOURNAL).unlink()
    _discard(txn)


def _discard(folder: Path) -> None:
    if folder.exists():
        faults.point("rmdir", folder)
        shutil.rmtree(folder, ignore_errors=True)


class Conflict(InputErrors):
    """An interrupted change cannot be completed because a file it touches was edited since."""


def recover(root: Path) -> str | None:
    """Finish or undo what a killed run left; returns a sentence saying what was done, or None.

    Uncommitted staging is thrown away. A committed change is applied in full, unless a file it touches was
    edited by hand since the crash (then InputErrors explains, and nothing is touched).
    """
    txn = state_dir(root) / "txn"
    if not txn.exists():
        return None
    journal = txn / JOURNAL
    if not journal.exists():
        _discard(txn)
        return "An interrupted otb run had not changed anything; its temporary files were removed."
    record = json.loads(journal.read_text(encoding="utf-8"))
    entries = record["files"]
    clashes = []
    for entry in entries:
        target = root / entry["path"]
        pending = entry["staged"] is not None and (txn / entry["staged"]).exists()
        if pending or entry["staged"] is None:
            now = _file_sha(target)
            if now not in (entry["old"], entry["new"]):
                clashes.append(Problem(Source(entry["path"]), "changed by hand after an interrupted otb run that "
                                       "was about to write it",
                                       f"restore it (git checkout {entry['path']}) and run otb again, which then "
                                       f"completes the interrupted change '{record.get('label', '')}'"))
    if clashes:
        raise Conflict(clashes)
    _apply(root, txn, entries)
    label = record.get("label") or "a change"
    return f"Completed an interrupted otb run ({label}): {len(entries)} file(s) written as it intended."


LEGACY_TEMP_SUFFIXES = (".tmp", ".otb-tmp")


def sweep(root: Path) -> int:
    """Remove temp files that killed runs left behind: otb's scratch folders, and `.NAME.xxxx.tmp` files that
    older versions wrote beside their targets in ledger/ and build/. Returns how many were removed."""
    removed = 0
    for scratch in ("shadow", "tmp"):
        folder = state_dir(root) / scratch
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    for top in ("ledger", "build"):
        base = root / top
        if not base.is_dir():
            continue
        for where, _, names in os.walk(base):
            for name in names:
                if name.startswith(".") and name.endswith(LEGACY_TEMP_SUFFIXES):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(where, name))
                        removed += 1
    return removed


HELPERS_DYING_SECONDS = 10.0


def _holder_gone(named: str) -> bool:
    """Whether the run named in the lock file (`otb pay (pid 4242)`) is no longer a process, or ended (a run
    empties the file as it ends). What still holds the lock is then a helper it forked, which inherited it:
    being killed by the kernel (forked._die_with; a kill -9 of otb, then the same command at once, found the
    lock still held by a helper that had not died yet: reading files from disk, a process dies only once the
    read is done), or about to close it (forked.background)."""
    if not named:
        return True
    match = re.search(r"\(pid (\d+)\)", named)
    if match is None:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, and someone else's
        return False
    return False


def _lock_within(handle, seconds: float) -> bool:
    """Take the lock as soon as it is free, within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


@contextlib.contextmanager
def repo_lock(root: Path, holder: str = "otb") -> Iterator[str | None]:
    """An exclusive lock on `<root>/.otb.lock` (released by the OS even if the process dies), then recovery of
    whatever a killed run left. Yields the recovery message, if any. The lock file names its holder (`otb watch
    2024-10 (pid 4242)`), so the one refused can say who to wait for."""
    path = root / ".otb.lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            named = handle.read(200).strip()
            who = named or "another otb run"
            if not (_holder_gone(named) and _lock_within(handle, HELPERS_DYING_SECONDS)):
                until = "stop it with Ctrl-C" if who.startswith("otb watch") else "wait for it to finish"
                raise Busy(f"{who} is working on {root} (lock: {path}); {until}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()})\n")
        handle.flush()
        message = recover(root)
        sweep(root)
        try:
            yield message
        finally:
            forked.join_background()  # cache writers (books/parse_cache.py) end with the command, failed or not
        handle.truncate(0)  # still holding it: nobody holds it now
    finally:
        handle.close()
