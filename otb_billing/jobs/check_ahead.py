"""The child that will check a change to the ledger (commit_ledger(ahead=...)), forked before the heavy imports.

This module imports nothing but `forked`: `otb bill` forks the child as its first step, while this process is
still importing the billing code (about 0.1 s on one core, the other idle), and the child spends that time
importing Beancount and the plugins the check will run (Fava's brings Flask), which it used to import later,
while both cores were busy reading and billing. Everything else it needs, it imports when it needs it.
"""

from __future__ import annotations

from pathlib import Path

from .. import forked
from ..books.layout import month_file
from ..core.month import Month


def checker_ahead(root: Path, parse_ahead: bool = False, held: bool = False) -> forked.Standby:
    """A child, forked now while the process is small, that will check the ledger for commit_ledger(ahead=...).
    At once it imports the plugins the check will run; with `parse_ahead` it then parses the ledger's files
    (books/preparse.py), for a change sure to come; `held`: that only once released (forked.Standby). What is
    fed to it (`feed((path relative to ledger/, bytes))`, in order from the first byte) is one changed file's
    beginning, parsed as it comes (preparse.Pieces)."""
    pieces: list = []  # the child's preparse.Pieces, made with the first piece

    def warm() -> None:
        from ..books import verify

        verify.import_plugins(root)

    def prepare():
        from .ledger_edit import parse_ahead as parse

        return parse(root) if parse_ahead else None

    def fed(item) -> None:
        if not pieces:
            from ..books import verify

            pieces.append(verify.pieces_ahead(root))
        pieces[0].add(*item)

    def check(staged, parsed):
        from .ledger_edit import check_staged

        return check_staged(root, staged, parsed, pieces[0] if pieces else None)

    return forked.Standby(check, prepare, held, warm, fed)


def bill_checker(root: Path, month: Month) -> forked.Standby:
    """otb bill's: for a month not billed yet (a change is sure to come) it parses the ledger's files while the
    bill goes on (books/preparse.py), held until the YAML and the CSVs are read (that takes both cores, the
    billing only one)."""
    return checker_ahead(root, parse_ahead=not month_file(root / "ledger", month).exists(), held=True)
