"""Rendering many documents on every core: a process pool for batches, plain calls for a few."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
SERIAL_BELOW = 24


def render_all(function: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`[function(item) for item in items]`, in order, on up to `workers` processes (default: every core)."""
    workers = workers or os.cpu_count() or 1
    if len(items) < SERIAL_BELOW or workers < 2:
        return [function(item) for item in items]
    chunk = max(1, len(items) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items, chunksize=chunk))
