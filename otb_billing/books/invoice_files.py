"""What the ledger remembers: earlier invoices (prepaid pool, month-over-month) and the month file's blocks.

Uses Beancount's own parser (no booking, no plugins): fast, and the same grammar bean-check reads.
"""

from __future__ import annotations

import contextlib
import functools
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import Problem, Source
from ..core.model import PriorInvoice
from ..core.money import ZERO
from ..core.month import Month
from ..filecache import cached
from . import postings
from .accounts import RECEIVABLE_ROOT
from .layout import month_file  # noqa: F401  (where callers have always found it)

if TYPE_CHECKING:
    from beancount.core import data

HEADER_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\s+(\*|!|txn)\s")
LINK_RE = re.compile(r"\^([A-Za-z0-9\-_/.]+)")


def read_priors(ledger: Path, problems: list[Problem], skip: Path | None = None) -> list[PriorInvoice]:
    """Every invoice transaction in ledger/invoices/*/*.beancount but the file `skip` (the month being billed,
    whose invoices are made anew). A file unchanged since an earlier run is not parsed again (filecache.py)."""
    priors: list[PriorInvoice] = []
    folder = ledger / "invoices"
    if not folder.is_dir():
        return priors
    for path in sorted(folder.glob("*/*.beancount")):
        if skip is not None and path == skip:
            continue
        priors.extend(cached("priors", path, None, problems, functools.partial(_file_priors, path, ledger)))
    return priors


def _file_priors(path: Path, ledger: Path, problems: list[Problem]) -> list[PriorInvoice]:
    from beancount.core import data
    from beancount.parser import parser

    entries, errors, _ = parser.parse_file(str(path))
    for error in errors:
        problems.append(Problem(source_of(error.source, ledger), f"ledger: {error.message}",
                                "fix the hand edit, or delete the file and bill the month again"))
    priors = []
    for entry in entries:
        if isinstance(entry, data.Transaction) and "invoice" in entry.meta:
            try:
                prior = _prior(entry)
            except postings.MissingAmount as exc:
                problems.append(Problem(source_of(exc.meta, ledger), f"ledger: {exc}"))
                continue
            if prior is not None:
                priors.append(prior)
    return priors


def source_of(meta, ledger: Path) -> Source:
    if not meta:
        return Source("ledger")
    filename = meta.get("filename", "ledger")
    with contextlib.suppress(ValueError):  # outside the repo: keep the path as Beancount gave it
        filename = Path(filename).resolve().relative_to(ledger.resolve().parent).as_posix()
    return Source(filename, meta.get("lineno", 0))


def _prior(entry: data.Transaction) -> PriorInvoice | None:
    meta = entry.meta
    if "adjusts" in meta:  # an adjustment invoice: not a month's bill of its own
        return None
    try:
        month = Month.parse(str(meta.get("period", "")))
    except ValueError:
        month = Month.of(entry.date)
    total = ZERO
    for post in entry.postings:
        if post.account.startswith(RECEIVABLE_ROOT + ":"):
            total += postings.number(post)
    return PriorInvoice(
        number=str(meta["invoice"]),
        account=str(meta.get("account", "")),
        month=month,
        total=total,
        pool_year=int(meta.get("pool_year", month.year)),
        prepaid_yearly_used=Decimal(str(meta.get("prepaid_yearly_used", 0))),
        finalized=entry.flag == "*",
    )


def is_adjustment(block: str) -> bool:
    return "\n  adjusts: " in block


def split_blocks(text: str) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """A month file as (leading comment lines, {invoice number: (flag, block text)}).

    Blocks are separated by blank lines; a block's invoice number is the first link on its header line.
    """
    leading: list[str] = []
    blocks: dict[str, tuple[str, str]] = {}
    for chunk in re.split(r"\n\s*\n", text):
        lines = chunk.strip("\n").splitlines()
        found = next(((ln, m) for ln in lines if (m := HEADER_RE.match(ln))), None)
        if found is None:
            leading.extend(ln for ln in lines if ln.strip())
            continue
        header, matched = found
        link = LINK_RE.search(header)
        flag = matched.group(1)
        if link:
            blocks[link.group(1)] = ("*" if flag == "txn" else flag, "\n".join(lines) + "\n")
    return leading, blocks
