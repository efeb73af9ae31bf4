"""`otb check [MONTH]`: every problem in the YAML, the month's exports and the ledger, without writing."""

from __future__ import annotations

from pathlib import Path

from beancount import loader

from ..books.invoice_files import source_of
from ..core.errors import InputErrors, Problem
from ..core.month import Month
from ..readers.config import read_config_collecting
from .pipeline import compute


def run_check(root: Path, month: Month | None) -> tuple[list[Problem], str]:
    """(problems, a one-line summary for when there are none)."""
    config, problems = read_config_collecting(root)
    if month is not None and config is not None:
        try:  # the exports' and the billing's problems too, alongside the YAML's (compute repeats those)
            compute(root, month)
        except InputErrors as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    main = root / "ledger" / "main.beancount"
    if main.exists():
        _, errors, _ = loader.load_file(str(main))
        for error in errors:
            problems.append(Problem(source_of(error.source, root / "ledger"), f"bean-check: {error.message}"))
    parts = []
    if config is not None:
        parts.append(f"{len(config.clients)} client(s), {len(config.plans)} plan(s)")
    if month is not None:
        parts.append(f"exports of {month} bill cleanly")
    parts.append("ledger passes bean-check" if main.exists() else "no ledger yet")
    return problems, "OK: " + ", ".join(parts)
