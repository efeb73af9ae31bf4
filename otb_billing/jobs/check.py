"""`otb check [MONTH]`: every problem in the YAML, the month's exports and the ledger, without writing."""

from __future__ import annotations

from pathlib import Path

from beancount import loader

from ..books.reader import _source
from ..core.errors import InputErrors, Problem
from ..core.month import Month
from ..readers.config import read_config


def run_check(root: Path, month: Month | None) -> tuple[list[Problem], str]:
    problems: list[Problem] = []
    config = None
    try:
        config = read_config(root)
    except InputErrors as exc:
        problems.extend(exc.problems)
    if month is not None and config is not None:
        from .bill import compute

        try:
            _, result, _ = compute(root, month)
        except InputErrors as exc:
            problems.extend(exc.problems)
    main = root / "ledger" / "main.beancount"
    if main.exists():
        _, errors, _ = loader.load_file(str(main))
        for error in errors:
            problems.append(Problem(_source(error.source, root / "ledger"), f"bean-check: {error.message}"))
    summary = "OK: " + ", ".join(
        part for part in (
            f"{len(config.clients)} client(s), {len(config.plans)} plan(s)" if config else "",
            f"exports of {month} bill cleanly" if month else "",
            "ledger passes bean-check" if main.exists() else "no ledger yet",
        ) if part
    )
    return problems, summary
