"""Python's cyclic garbage collector held off around work that makes millions of objects and no cycles.

Reading 230,000 records back (`otb status`, `aging`) and formatting a 120,000-row table make objects faster than
the collector's thresholds expect, so it walks the growing heap again and again for nothing: a third of the
load, a tenth of the table. Reference counting still frees everything as usual; only cycles wait.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused(freeze: bool = False) -> Iterator[None]:
    """No cyclic collection inside the block. With `freeze`, what exists when it ends is moved out of the
    collector's sight for good (gc.freeze): data that lives as long as the command, never walked again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was:
            gc.enable()
