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


_KEPT: list = []


def keep_to_exit(*values: object) -> None:
    """Hold `values` (what a command built) until the process ends, and never free them: freeing a bill's 10,000
    invoices object by object as the command returned took 0.3 s, a status table's 240,000 records 0.04 s, and the
    memory goes back to the system at exit all the same. The list holds itself too, and once frozen (gc.freeze,
    `paused(freeze=True)`) no collection looks at that cycle again, so the interpreter's exit, which clears every
    module, leaves it be. What an earlier call held is let go."""
    _KEPT[:] = [*values, _KEPT]
