"""Fault injection for the crash tests: a named point before every durable file operation.

Every fsync, replace and unlink that matters for the books goes through `point()`. Normally it does nothing.
The crash harness (tests/crash.py, bench/bench_crash.py) sets, in the process it is about to kill:

- `OTB_FAULT_LOG=FILE`: append one line per point reached (how many points a command has, and which);
- `OTB_FAULT_AT=N`: the process kills itself with SIGKILL when it reaches point N (1-based), as a power cut
  would: no exception handler, no `finally`, no atexit runs.

Reading two environment variables costs nothing next to an fsync.
"""

from __future__ import annotations

import os
import signal

_count = 0


def point(kind: str, path: object) -> None:
    """Called just before a durable operation (`fsync`, `replace`, `unlink`, `rmdir`) on `path`."""
    global _count
    log = os.environ.get("OTB_FAULT_LOG")
    at = os.environ.get("OTB_FAULT_AT")
    if log is None and at is None:
        return
    _count += 1
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{_count} {kind} {path}\n")
    if at and _count == int(at):
        os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Start counting again (the harness forks one child per run; each child starts at 0)."""
    global _count
    _count = 0
