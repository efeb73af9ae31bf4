"""Writing one file the user named (`--out`, `--csv`, a statement PDF) whole or not at all.

The billing repo's own files go through journal.py, which makes a whole change one recoverable unit.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .journal import mode_for


def write_atomic(path: Path, content: bytes | str) -> None:
    """Write to a temp file beside `path`, fsync, then os.replace: readers see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
