"""`otb finalize MONTH`: the month's drafts become issued invoices (flag *, `finalized`, `digest`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Collection

from ..books import reader, writer
from ..books.documents import seal
from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.month import Month
from .ledger_edit import ledger_file_edits, open_books, write_verified


def run_finalize(root: Path, month: Month, only: Collection[str], at: dt.datetime) -> list[str]:
    """Seal the month's drafts (of the `only` accounts, if given); returns the invoice numbers finalized."""
    config, books = open_books(root)
    path = reader.month_file(root / "ledger", month)
    if not path.exists():
        raise InputErrors([Problem(None, f"{month} has not been billed", f"run: otb bill {month}")])
    leading, blocks = reader.split_blocks(path.read_text(encoding="utf-8"))
    accounts = {d.number: d.account for d in books.docs}
    known = {c.account for c in config.clients}
    problems = [Problem(None, f"--client {a}: no client file has this account", did_you_mean(a, known))
                for a in only if a not in known]
    if problems:
        raise InputErrors(problems)
    done = []
    new_blocks = {}
    for number, (flag, text) in blocks.items():
        if flag == "!" and (not only or accounts.get(number) in only):
            text = seal(text, at)
            done.append(number)
        new_blocks[number] = text
    if not done:
        return []
    write_verified(root, ledger_file_edits(root, {path: writer.render_month_file(month, new_blocks.items())}))
    return sorted(done)
