"""Changing the ledger after billing (finalize, pay, credit): read it whole, write, verify, or put it back.

Every such command refuses to start on a ledger that bean-check rejects, and after writing it loads the ledger
again with the plugin; if that reports anything, every file is restored to its exact former bytes.
"""

from __future__ import annotations

from pathlib import Path

from ..books import writer
from ..books.extract import Books, load_books
from ..core.errors import InputErrors, Problem
from ..core.model import Config
from ..fsutil import write_all
from ..readers.config import read_config


def open_books(root: Path) -> tuple[Config, Books]:
    """The config and the loaded ledger; InputErrors if either has problems."""
    config = read_config(root)
    books = load_books(root / "ledger")
    if not (root / "ledger" / "main.beancount").exists():
        raise InputErrors([Problem(None, "there is no ledger yet", "bill a month first: otb bill YYYY-MM")])
    if books.problems:
        raise InputErrors(books.problems + [Problem(None, "the ledger must pass bean-check before it is changed",
                                                    "fix the problems above first")])
    return config, books


def skeleton_files(root: Path, config: Config) -> dict[Path, str]:
    """main.beancount and accounts.beancount for a repo that has no ledger yet."""
    ledger = root / "ledger"
    files = {}
    if not (ledger / "accounts.beancount").exists():
        files[ledger / "accounts.beancount"] = writer.accounts_skeleton(config.settings)
    if not (ledger / "main.beancount").exists():
        files[ledger / "main.beancount"] = writer.main_skeleton(config.settings)
    return files


def ledger_file_edits(root: Path, new_texts: dict[Path, str], accounts: dict | None = None) -> dict[Path, str]:
    """The files to write so that each path holds its new text, is included from main, and `accounts` are open.

    Ordered for a safe replace: accounts first, then the files, then main.beancount.
    """
    ledger = root / "ledger"
    files: dict[Path, str] = {}
    accounts_path = ledger / "accounts.beancount"
    if accounts:
        old = accounts_path.read_text(encoding="utf-8") if accounts_path.exists() else ""
        new = writer.with_accounts(old, accounts)
        if new != old:
            files[accounts_path] = new
    files.update(new_texts)
    main_path = ledger / "main.beancount"
    old_main = main_path.read_text(encoding="utf-8") if main_path.exists() else ""
    new_main = writer.with_plugin(old_main)
    for path in new_texts:
        new_main = writer.with_include(new_main, path.relative_to(ledger).as_posix())
    if new_main != old_main:
        files[main_path] = new_main
    return files


def appended(path: Path, blocks, header: str) -> str:
    """An append-only ledger file (payments, credit notes, documents, sends) with entries added at its end;
    `header` starts a new file."""
    text = path.read_text(encoding="utf-8") if path.exists() else header
    for block in blocks:
        text = text.rstrip("\n") + "\n\n" + block
    return text


def payments_header(year: int) -> str:
    return f"; Payments of {year}, written by otb. Nothing here is ever deleted.\n"


def write_verified(root: Path, files: dict[Path, str]) -> None:
    """Write the files, reload the ledger, and restore every file if bean-check (with the plugin) complains."""
    before = {path: (path.read_bytes() if path.exists() else None) for path in files}
    write_all(files)
    books = load_books(root / "ledger")
    if books.problems:
        write_all({path: data for path, data in before.items() if data is not None})
        for path, data in before.items():
            if data is None and path.exists():
                path.unlink()
        raise InputErrors([Problem(None, f"internal error: the change would break the ledger: {p}",
                                   "nothing was changed; please report this") for p in books.problems])
