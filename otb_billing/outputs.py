"""Regenerable output (build/): written whole through temp files, optionally staged by a forked child while the
caller keeps working.

Creating a file is the slow part of writing a thousand small CSVs (0.05-1 ms each on an ordinary ext4 disk, time
spent waiting on the file system, not computing). `OutputStage(root, background=True)` has a forked child create
each temp file as soon as its bytes exist, so that this waiting overlaps the rendering and the ledger commit that
follow; `publish()` then only renames them into place (microseconds each), and `discard()` throws them away when
the commit failed, so a run that writes nothing to the ledger writes nothing to build/ either. (A thread was
tried first: it needs the interpreter lock back after every system call, and at 10,000 files that slowed the
rendering more than the overlap saved.)

A folder that does not exist yet (build/MONTH of a month billed anew) is made whole in `.otb/tmp/` under its
own files' names and renamed into place at once: one rename instead of one per file (10,000 clients: 0.37 s at
the end of the bill, on one core), and no temp name to create and rename away per file.

Temp files live in `.otb/tmp/` (swept by the next run if this one is killed); a kill leaves each output old or
new, never half written, and a new folder whole or absent. Outputs are not fsynced: they can always be made again
from the ledger (`otb export`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import faults, forked
from .journal import replace_into, state_dir


class OutputStage:
    """Temp files for build/ outputs, renamed into place by `publish()`; see the module docstring."""

    def __init__(self, root: Path, background: bool = False) -> None:
        self.root = Path(root)
        self.scratch = state_dir(self.root) / "tmp"
        self.scratch.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        self._new_mode = 0o666 & ~umask
        self._staged: list[tuple[str, str]] = []  # (temp, target), in the order added
        self._folders: dict[str, str | None] = {}  # a target's folder -> its scratch copy, if it is new (else None)
        self._count = 0
        self._background = background
        # forked now, while the process is small: forked once the month is read, each page that either process
        # touches afterwards becomes a copy
        self._child: forked.Stream | None = forked.Stream(self._stage_all, keep=False) if background else None

    def add(self, files: Mapping[Path, bytes | str]) -> None:
        """Stage these outputs (paths absolute or relative to the repo); a file that already holds the same bytes
        is left out. In the background, the forked child creates the temp files."""
        items = [(str(path if path.is_absolute() else self.root / path), content) for path, content in files.items()]
        if self._child is None:
            self._staged += self._stage_all([items])
        else:
            self._child.send(items)

    def flush(self) -> None:
        """Hand the background child everything added so far (forked.Stream.flush): before this process forks
        one that adds outputs of its own, and in that one before it ends."""
        if self._child is not None:
            self._child.flush()

    def publish(self) -> list[Path]:
        """Rename every staged file over its target, in the order added; returns the targets written (new or
        changed). A staging error (a full disk, say; forked.ChildLost if the child was killed) is raised before
        anything is renamed."""
        self._finish()
        written = []
        moved: dict[str, bool] = {}  # a new folder's scratch copy -> renamed into place whole
        for temp, target in self._staged:
            folder = os.path.dirname(temp)
            if folder != str(self.scratch) and folder not in moved:  # a new folder's scratch copy, met first
                moved[folder] = _move_folder(Path(folder), Path(target).parent)
            if not moved.get(folder):
                replace_into(Path(temp), Path(target))
            written.append(Path(target))
        for folder, whole in moved.items():
            if not whole:
                os.rmdir(folder)  # emptied file by file
        self._staged = []
        self._folders = {}  # those folders exist now: what is added next is staged file by file
        return written

    def discard(self) -> None:
        """Throw the staged files away (the change they belong to was not committed)."""
        if self._child is not None:
            child, self._child = self._child, None
            pid = child.pid
            child.cancel()
            _unlink(self.scratch / name for name in os.listdir(self.scratch) if name.startswith(f"{pid}-"))
        _unlink(temp for temp, _ in self._staged)
        _unlink({os.path.dirname(temp) for temp, _ in self._staged} - {str(self.scratch)})
        self._staged = []

    def _finish(self) -> None:
        if self._child is not None:
            child, self._child = self._child, None
            self._staged += child.finish()

    def _stage_all(self, batches: Iterable[list[tuple[str, bytes | str]]]) -> list[tuple[str, str]]:
        """Create a temp file for each output that differs from its target: [(temp, target)]; on an error, none
        is left behind."""
        staged: list[tuple[str, str]] = []
        pid = os.getpid()
        try:
            for items in batches:
                self._stage_into(staged, items, pid)
        except BaseException:
            _unlink(temp for temp, _ in staged)
            _unlink(folder for folder in self._folders.values() if folder is not None)
            raise
        return staged

    def _temp(self, pid: int, number: int) -> str:
        return os.path.join(self.scratch, f"{pid}-{number}")

    def _stage_into(self, staged: list[tuple[str, str]], items: Iterable[tuple[str, bytes | str]], pid: int) -> None:
        for target, content in items:
            data = content.encode("utf-8") if isinstance(content, str) else content
            folder, name = os.path.split(target)
            copy = self._folder_copy(folder, pid)
            if copy is not None:  # a new folder: the file under its own name in the folder's scratch copy
                mode, temp = self._new_mode, os.path.join(copy, name)
            else:
                try:
                    st = os.stat(target)
                except FileNotFoundError:
                    mode = self._new_mode
                else:
                    mode = st.st_mode & 0o777
                    if st.st_size == len(data) and Path(target).read_bytes() == data:
                        continue  # the same bytes: left alone (a rebill then rewrites only what changed)
                self._count += 1
                temp = self._temp(pid, self._count)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if mode != self._new_mode:
                    os.fchmod(fd, mode)  # the target's own mode, whatever the umask
            finally:
                os.close(fd)
            staged.append((temp, target))

    def _folder_copy(self, folder: str, pid: int) -> str | None:
        """The scratch copy of `folder` if it does not exist (made now, the first time), else None."""
        if folder not in self._folders:
            copy = None
            if not os.path.isdir(folder):
                copy = os.path.join(self.scratch, f"{pid}-folder-{len(self._folders) + 1}")
                os.mkdir(copy)
            self._folders[folder] = copy
        return self._folders[folder]


def _move_folder(copy: Path, folder: Path) -> bool:
    """Rename the scratch copy of a new folder into place whole; False if the folder exists by now (its files are
    then moved one by one)."""
    if folder.exists():
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    faults.point("replace", folder)
    try:
        os.rename(copy, folder)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EXDEV):
            raise
        return False
    return True


def _unlink(paths: Iterable[str | Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def write_outputs(root: Path, files: Mapping[Path, bytes | str]) -> list[Path]:
    """Write these build/ outputs now (each through a temp file, then renamed); returns the files written (new or
    changed). A file that already holds these bytes is not touched."""
    stage = OutputStage(root)
    try:
        stage.add(files)
        return stage.publish()
    except BaseException:
        stage.discard()
        raise


def remove_outputs(paths: Iterable[Path]) -> None:
    for path in paths:
        faults.point("unlink", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
