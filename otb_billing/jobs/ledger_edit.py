"""Changing the ledger (bill, finalize, pay, credit, ...): read it whole, check the change, commit it as one unit.

Every such command refuses to start on a ledger that bean-check rejects, and checks the ledger as it would be
(plugin included) before any file is replaced; the files of one change are committed together or not at all
(journal.py), and a run killed half way is completed or undone by the next one.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .. import forked, journal
from ..books import invoice_files, parse_cache, records_cache, verify, writer
from ..books.extract import Books, extract_records, load_books
from ..core.errors import InputErrors, Problem
from ..core.model import Config
from ..readers.config import read_config
from .check_ahead import checker_ahead


def open_books(root: Path, for_change: bool = True,
               records_will_do: Callable[[Config], bool] | None = None) -> tuple[Config, Books]:
    """The config and the loaded ledger; InputErrors if either has problems. `for_change`: the caller is about to
    change the ledger (see extract.load_books). `records_will_do(config)`: whether the change stays in the books'
    currency (a payment of a client billed in it, a bank statement in it), and so needs only the ledger's
    records: see _kept_records."""
    config = read_config(root)
    if records_will_do is not None and records_will_do(config) and (kept := _kept_records(root)) is not None:
        return config, kept
    books = load_books(root / "ledger", for_change)
    if not (root / "ledger" / "main.beancount").exists():
        raise InputErrors([Problem(None, "there is no ledger yet", "bill a month first: otb bill YYYY-MM")])
    if books.problems:
        raise InputErrors(books.problems + [Problem(None, "the ledger must pass bean-check before it is changed",
                                                    "fix the problems above first")])
    verify.remember_good(root)
    return config, books


def billed_month(root: Path, month) -> tuple[Path, dict[str, tuple[str, str]]]:
    """The month file and its blocks by invoice number; InputErrors if the month was never billed."""
    path = invoice_files.month_file(root / "ledger", month)
    if not path.exists():
        raise InputErrors([Problem(None, f"{month} has not been billed", f"run: otb bill {month}")])
    return path, invoice_files.split_blocks(path.read_text(encoding="utf-8"))[1]


def in_books_currency(account: str) -> Callable[[Config], bool]:
    """For open_books: whether `account` is a client billed in the books' currency."""
    def check(config: Config) -> bool:
        client = next((c for c in config.clients if c.account == account), None)
        return client is not None and config.currency_of(client) == config.settings.currency

    return check


def _kept_records(root: Path) -> Books | None:
    """The records the reports' cache keeps (records_cache), when they are this very ledger's (the same files as
    the full load or the checked change that kept them, so it passes bean-check) and no invoice of the ledger is
    in another currency: then a change in the books' currency needs no entry of the ledger, only its invoices,
    payments and credit notes, and the whole-ledger load (half of `otb pay` late in the year) is not needed.
    Else None."""
    kept = records_cache.load(root)
    if kept is None or any(doc.fx_rate is not None for doc in kept.docs):
        return None
    return kept


def require_good_ledger(root: Path) -> None:
    """Refuse to change a ledger that fails bean-check; loads it only if it changed since otb last checked it."""
    if not (root / "ledger" / "main.beancount").exists() or verify.known_good(root):
        return
    books = load_books(root / "ledger", for_change=True)
    if books.problems:
        raise InputErrors(books.problems + [Problem(None, "the ledger must pass bean-check before it is changed",
                                                    "fix the problems above first")])
    verify.remember_good(root)


def skeleton_files(root: Path, config: Config) -> dict[Path, str]:
    """main.beancount and accounts.beancount for a repo that has no ledger yet."""
    ledger = root / "ledger"
    files = {}
    if not (ledger / "accounts.beancount").exists():
        files[ledger / "accounts.beancount"] = writer.accounts_skeleton(config.settings)
    if not (ledger / "main.beancount").exists():
        files[ledger / "main.beancount"] = writer.main_skeleton(config.settings)
    return files


POSTING_ACCOUNT_RE = re.compile(r"^[ \t]+((?:Assets|Liabilities|Equity|Income|Expenses)(?::[^\s:]+)+)", re.M)
OPEN_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ \t]+open[ \t]+(\S+)", re.M)


def opened_accounts(ledger: Path, texts=()) -> set[str]:
    """Every account an `open` directive opens, in the ledger's files or in `texts` (files about to be written)."""
    found: set[str] = set()
    for path in sorted(ledger.rglob("*.beancount")) if ledger.is_dir() else []:
        found.update(OPEN_RE.findall(path.read_text(encoding="utf-8", errors="replace")))
    for text in texts:
        found.update(OPEN_RE.findall(text))
    return found


def ledger_file_edits(root: Path, new_texts: dict[Path, str], accounts: dict | None = None,
                      base: dict[Path, str] | None = None) -> dict[Path, str]:
    """The files to write so that each path holds its new text, is included from main, and every account the new
    text posts to is open (`accounts` gives metadata for some of them).

    `base` holds files of the same change that are not on disk yet (a new ledger's skeleton). Ordered for readers
    that do not take the lock (Fava): accounts first, then the files, then main.beancount.
    """
    ledger = root / "ledger"
    base = dict(base or {})

    def current(path: Path) -> str:
        if path in base:
            return base[path]
        return path.read_text(encoding="utf-8") if path.exists() else ""

    needed = dict(accounts or {})
    opened = opened_accounts(ledger, base.values())
    for text in new_texts.values():
        for name in POSTING_ACCOUNT_RE.findall(text):
            if name not in opened and name not in needed:
                needed[name] = ({"account_number": name.rsplit(":", 1)[-1]}
                                if name.startswith(("Assets:Receivable:", "Liabilities:Deposits:")) else {})
    needed = {name: meta for name, meta in needed.items() if name not in opened}
    files: dict[Path, str] = {path: text for path, text in base.items() if path.name != "main.beancount"}
    accounts_path = ledger / "accounts.beancount"
    if needed:
        old = current(accounts_path)
        new = writer.with_accounts(old, needed)
        if new != old or accounts_path in base:
            files[accounts_path] = new
    files.update(new_texts)
    main_path = ledger / "main.beancount"
    old_main = current(main_path)
    new_main = writer.with_plugin(old_main)
    for path in new_texts:
        new_main = writer.with_include(new_main, path.relative_to(ledger).as_posix())
    if new_main != old_main or main_path in base:
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


def _checker(root: Path):
    def check(staged):
        return _checked(verify.check_change(root, staged))

    return check


def _checked(problems: list[Problem]) -> list[Problem]:
    return [p._replace(message=f"internal error: the change would break the ledger: {p.message}",
                       hint="nothing was changed; please report this") for p in problems]


def trial_ledger(root: Path, files: Mapping[Path, str | bytes | None]) -> list[Problem]:
    """What bean-check would say about the ledger with `files` written; writes nothing."""
    return journal.trial(root, files, _checker(root))


Packed = tuple[bytes, bytes | None, bytes]  # records_cache.pack


def check_staged(root: Path, staged: dict[str, str | None], parsed, pieces=None
                 ) -> tuple[list[Problem], Packed | None]:
    """The check a checker_ahead child runs once the staged files (relative path -> staged file) come."""
    return _check_keeping(root, {path: None if file is None else Path(file) for path, file in staged.items()}, parsed,
                          pieces)


def _check_keeping(root: Path, staged: dict[str, Path | None], parsed, pieces=None
                   ) -> tuple[list[Problem], Packed | None]:
    """The check's problems and, when there are none, the records of the ledger it loaded, packed for the
    reports' cache (records_cache): once committed, the ledger is the one checked."""
    kept: list[Packed | None] = []
    problems = _checked(verify.check_change(root, staged, parsed, on_pass=lambda entries: kept.append(
        _records_of(entries)), pieces=pieces))
    return problems, (kept[0] if kept and not problems else None)


def _records_of(entries) -> Packed | None:
    books = Books()
    extract_records(books, entries)
    return None if books.problems else records_cache.pack(books)


class LedgerCheck:
    """The check of one change, for journal.commit: here (`check(staged)`), or by the child `standby`
    (checker_ahead) as its `ahead`. Keeps the records of the ledger it loaded, for commit_ledger to store."""

    def __init__(self, root: Path, standby: forked.Standby | None = None) -> None:
        self.root, self.standby = root, standby
        self.records: Packed | None = None

    def __call__(self, staged: dict[str, Path | None]) -> list[Problem]:
        problems, self.records = _check_keeping(self.root, staged, None)
        return problems

    def beside(self, staged: dict[str, str | None], meanwhile: Callable[[], object]) -> list[Problem]:
        assert self.standby is not None
        problems, self.records = self.standby.beside(staged, meanwhile)
        return problems


def parse_ahead(root: Path):
    """The ledger's files parsed ahead, if the memory they will hold is to spare (else the check parses them)."""
    size = sum(path.stat().st_size for path in (root / "ledger").rglob("*.beancount"))
    return verify.parse_ahead(root) if forked.room_for(parse_cache.PARSED_PER_BYTE * size) else None


@contextlib.contextmanager
def checked_change(root: Path) -> Iterator[forked.Standby]:
    """For a command that loads the whole ledger, then changes it (pay, credit, import-payments --apply): the
    check's child, forked now, parses the ledger's files while this process loads them (books/preparse.py), and
    checks the change when it comes (commit_ledger(ahead=...)); stopped if none comes. Each of the two is a whole
    load of the ledger, and the first one's parse no longer waits in line for the second."""
    ahead = checker_ahead(root, parse_ahead=True)
    try:
        yield ahead
    finally:
        ahead.cancel()


def commit_ledger(root: Path, files: Mapping[Path, str | bytes | None], label: str = "",
                  meanwhile: Callable[[], object] | None = None, ahead: forked.Standby | None = None) -> list[str]:
    """Write the files as one unit after checking the whole ledger as it would be; InputErrors (and nothing
    written) if bean-check with the plugin would report anything. `meanwhile` runs while the check does (see
    journal.commit), in the child `ahead` (checker_ahead) if given."""
    check = LedgerCheck(root, ahead)
    changed = journal.commit(root, files, check, label, meanwhile, check if ahead is not None else None)
    if any(path.startswith("ledger/") for path in changed):
        verify.remember_good(root)
        if check.records is not None:  # what status and aging read next, without loading the ledger again
            records_cache.store_packed(root, check.records)
    return changed
