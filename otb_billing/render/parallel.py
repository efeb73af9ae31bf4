"""Rendering many documents on every core: a process pool for batches, plain calls for a few."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
SERIAL_BELOW = 24


def render_all(function: Callable[[T], R], items: Sequence[T], workers: int | None = None,
               progress: Callable[[], None] | None = None) -> list[R]:
    """`[function(item) for item in items]`, in order, on up to `workers` processes (default: every core);
    `progress()` is called as each one is done."""
    workers = workers or os.cpu_count() or 1
    tick = progress or (lambda: None)
    results: list[R] = []
    if len(items) < SERIAL_BELOW or workers < 2:
        for item in items:
            results.append(function(item))
            tick()
        return results
    chunk = max(1, len(items) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(function, items, chunksize=chunk):
            results.append(result)
            tick()
    return results
