"""File-system safety: atomic writes of a whole set of files, and one run at a time per billing repo."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping


def write_atomic(path: Path, content: bytes | str) -> None:
    """Write to a temp file beside `path`, fsync, then os.replace: readers see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_all(files: Mapping[Path, bytes | str], durable: bool = True) -> None:
    """Stage every file as a temp file first, then replace them in the given order.

    Nothing is replaced unless every temp file was written, so a full disk or a bad path leaves all files as
    they were. The order matters for the ledger: accounts before the month file before main.beancount, so the
    ledger is valid after each single replace. `durable=False` skips fsync, for regenerable output in build/.
    """
    staged: list[tuple[str, Path]] = []
    folders: set[Path] = set()
    try:
        for path, content in files.items():
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            data = content.encode("utf-8") if isinstance(content, str) else content
            if durable:
                fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            else:
                temp = str(path.parent / f".{path.name}.{os.getpid()}.tmp")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            staged.append((temp, path))
            os.fchmod(fd, _mode_for(path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
    except BaseException:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        raise
    for temp, path in staged:
        os.replace(temp, path)


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual ones (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class Busy(Exception):
    """Another otb run holds the repo's lock."""


@contextlib.contextmanager
def repo_lock(root: Path) -> Iterator[None]:
    """An exclusive lock on `<root>/.otb.lock`; released by the OS even if the process dies."""
    path = root / ".otb.lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another otb run is working on {root} (lock: {path}); wait for it to finish") from None
        yield
    finally:
        handle.close()
