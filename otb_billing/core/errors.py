"""Errors as data, the way Beancount reports them: each carries its source, all are collected, then reported.

Readers and rules append `Problem` records to a list instead of raising, so one run reports every mistake in
the inputs at once. Only the CLI turns them into an exit status.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NamedTuple


class Source(NamedTuple):
    """Where a value came from: a file (relative to the billing repo when possible) and a 1-based line."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class Problem(NamedTuple):
    """One error or warning, with its source and an optional hint that says how to fix it."""

    source: Source | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class InputErrors(Exception):
    """Raised at a layer boundary when collected problems make it impossible to go on."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # so that a worker process can hand its problems back intact
        return (InputErrors, (self.problems,))


def did_you_mean(word: str, choices: Iterable[str], list_known: bool = True) -> str:
    """A hint naming the closest known word, or the list of known words when nothing is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if list_known and len(choices) <= 12:
        return "known: " + ", ".join(choices)
    return ""
