"""Which saves `otb watch` reacts to, and the bursts they come in (watchdog: inotify, or polling with --poll).

An editor's save is several events: vim writes `4913` and a `.swp`, renames the old file to `name~` and writes a
new one; others write a hidden temp file and rename it over the original, or truncate and write in place. Only the
repo's own input files count (settings.yaml, services.yaml, clients/*.yaml, plans/*.yaml, exports/MONTH/*.csv,
templates/**); a rename counts for both its names; hidden, backup, swap and temp files never count. Events are
collected until none has come for `quiet` seconds, then handed over as one set of paths.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

from ..core.month import Month

ROOT_FILES = ("settings.yaml", "services.yaml")
FOLDERS = ("clients", "plans", "exports", "templates")
TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".part", ".bak", ".orig")


def relevant(relative: str, month: Month) -> bool:
    """True for a repo-relative path ('/'-separated) that is one of the inputs of billing `month`."""
    parts = relative.split("/")
    name = parts[-1]
    if not name or any(p.startswith(".") for p in parts) or name.endswith(TEMP_SUFFIXES) or name == "4913":
        return False
    if name.startswith("#") or name.startswith(".#"):  # emacs
        return False
    if len(parts) == 1:
        return name in ROOT_FILES
    top = parts[0]
    if top in ("clients", "plans"):
        return len(parts) == 2 and name.endswith(".yaml")
    if top == "exports":
        return len(parts) == 3 and parts[1] == str(month) and name.endswith(".csv")
    return top == "templates"


class Collector:
    """Thread-safe: watchdog's thread puts events in, the main loop takes bursts out."""

    def __init__(self, root: Path, month: Month) -> None:
        self.root = str(root.resolve())
        self.month = month
        self._queue: queue.Queue[str] = queue.Queue()

    def _relative(self, path: str | bytes) -> str | None:
        text = os.fsdecode(path)
        if not text.startswith(self.root + os.sep):
            return None
        return text[len(self.root) + 1:].replace(os.sep, "/")

    def dispatch(self, event) -> None:
        """watchdog's entry point (the handler's on_any_event)."""
        if event.event_type in ("opened", "closed_no_write"):
            return
        for path in (event.src_path, getattr(event, "dest_path", "")):
            relative = self._relative(path) if path else None
            if relative is not None and relevant(relative, self.month):
                self._queue.put(relative)

    def burst(self, quiet: float, stop, idle: float = 1.0) -> set[str]:
        """Wait for a change, then until `quiet` seconds pass without one; the paths changed. Returns early
        (maybe empty) when `stop()` turns true, and empty after `idle` seconds without any change."""
        found: set[str] = set()
        last = 0.0
        began = time.monotonic()
        while not stop():
            if not found and time.monotonic() - began >= idle:
                break
            try:
                found.add(self._queue.get(timeout=0.05))
                last = time.monotonic()
            except queue.Empty:
                if found and time.monotonic() - last >= quiet:
                    break
        return found


def start_observer(root: Path, collector: Collector, poll: bool):
    """A started watchdog observer on the repo's input folders (recursive: a folder created later is seen too)."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.is_directory and event.event_type == "created":
                folder = Path(os.fsdecode(event.src_path))
                if folder.parent == root and folder.name in FOLDERS:  # e.g. templates/ made while watching
                    watch(folder)
            collector.dispatch(event)

    def watch(folder: Path) -> None:
        observer.schedule(handler, str(folder), recursive=folder.name in ("exports", "templates"))

    root = root.resolve()
    observer = PollingObserver(timeout=0.25) if poll else Observer()
    handler = Handler()
    observer.schedule(handler, str(root), recursive=False)
    for name in FOLDERS:
        if (root / name).is_dir():
            watch(root / name)
    observer.start()
    return observer
