"""`otb watch MONTH`: the month billed again after every save, only for the clients the saved file touches.

A session starts like `otb bill MONTH` (the whole ledger checked, every client billed, drafts written) and then
refreshes after each burst of saves (see jobs/watch_events.py for which files count):

- a client file: that client (the account it had and the one it has now; a deleted file removes its draft);
- a plan file: the clients on the plans it defines (before and after the edit);
- an export of the month: the accounts whose rows in it changed;
- settings.yaml, services.yaml, templates, or anything else: every client.

Inputs are read through a stat-keyed cache (filecache.py), what billing takes from the rest of the ledger is
read once (the session holds the repo lock, so nothing else changes it), and only the changed drafts' CSVs and
QuickBooks rows are rendered again. A refresh with problems in the inputs writes nothing and keeps the clients it
would have billed pending until the inputs are clean again, so the last good drafts stay in the ledger.
Finalized invoices are never rewritten (as with `otb bill`, a change to one is reported as a warning).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import cast

from .. import journal
from ..books import invoice_files, verify
from ..core.billing import bill_month, split_exports
from ..core.errors import InputErrors, Problem
from ..core.model import BillResult, Config, Exports, Invoice
from ..core.month import Month
from ..core.rules import invoice_number
from ..filecache import FileCache, caching
from ..outputs import remove_outputs, write_outputs
from ..readers.config import read_config_collecting
from ..readers.exports import read_exports
from ..render import qbcsv
from .bill import (
    OutputMemo,
    _leave_finalized_alone,
    _ledger_files,
    bill_report,
    kept_blocks,
    month_outputs,
    stale_outputs,
)
from .ledger_edit import OPEN_RE, commit_ledger, opened_accounts, require_good_ledger
from .pipeline import LedgerContext, credit_on_account, ledger_context

EVERYTHING = None  # "what changed" when every client must be billed again
EXPORT_KINDS = {"users.csv": "users", "assets.csv": "assets", "tickets.csv": "tickets", "usage.csv": "usage"}


@dataclass(frozen=True)
class Change:
    """One client's draft as it moved: None for no draft (a client added, removed or out of contract)."""

    account: str
    client: str
    number: str
    currency: str
    old: Decimal | None
    new: Decimal | None


@dataclass
class Refresh:
    """What one refresh did, for the terminal."""

    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # nothing was written
    warnings: list[Problem] = field(default_factory=list)
    billed: int = 0  # clients billed again
    written: int = 0  # files written or removed
    seconds: float = 0.0
    everything: bool = False


class WatchSession:
    """The state a watch keeps between refreshes. Call `start()` once (under the repo lock), then `refresh(paths)`
    with the repo-relative paths of each burst of saves."""

    def __init__(self, root: Path, month: Month, pdf: bool = False) -> None:
        self.root, self.month, self.pdf = root, month, pdf
        self.cache = FileCache()
        self.memo = OutputMemo()
        self.config: Config | None = None
        self.exports: Exports | None = None
        self.inventories: dict | None = None
        self._split_of: Exports | None = None  # the exports `inventories` was made from
        self.context: LedgerContext | None = None
        self.credit: dict[str, Decimal] = {}
        self.opened: set[str] = set()
        self.invoices: dict[str, Invoice] = {}  # every invoice of the month file, by number
        self.written: dict[Path, bytes] = {}  # build/ files as last written
        self.pending: set[str] | None = EVERYTHING  # accounts to bill again (EVERYTHING until a first clean run)
        self.zip_due = False  # the month's ZIP is behind the CSVs (see settle)
        self.warnings: dict[str | None, list[Problem]] = {}  # the month's warnings by account (None: no client)

    def start(self) -> Refresh:
        """Check the whole ledger, read what billing needs from it, and bill every client (like `otb bill`)."""
        require_good_ledger(self.root)
        problems: list[Problem] = []
        base = self._read_settings_currency()
        self.context = ledger_context(self.root, self.month, base, problems)
        self.credit = credit_on_account(self.root / "ledger", self.month)
        self.opened = opened_accounts(self.root / "ledger")
        if problems:  # the ledger itself: nothing a save of an input file could fix
            raise InputErrors(problems)
        return self.refresh(None)

    def _read_settings_currency(self) -> str:
        with caching(self.cache):
            config, _ = read_config_collecting(self.root)
        return config.settings.currency if config is not None else "CAD"

    # --- one refresh --------------------------------------------------------------------------------------------

    def refresh(self, paths: Iterable[str] | None) -> Refresh:
        """Bill again what `paths` (repo-relative, '/'-separated; None: everything) affect, and write it."""
        began = time.perf_counter()
        report = Refresh()
        with caching(self.cache):
            config, problems = read_config_collecting(self.root)
            exports = None
            if config is not None:
                exports, export_problems = read_exports(self.root, self.month, config.settings.timezone,
                                                        config.settings.number_format)
                problems += export_problems
        if config is not None and exports is not None:
            self._widen_pending(paths, config, exports)
        report.everything = self.pending is EVERYTHING
        if problems or config is None or exports is None:
            report.problems = problems
        else:
            self._bill(config, exports, report)
        report.seconds = time.perf_counter() - began
        return report

    def _widen_pending(self, paths: Iterable[str] | None, config: Config, exports: Exports) -> None:
        """Add to the pending accounts those the changed files affect, comparing the last clean read with now."""
        if self.pending is EVERYTHING:
            return
        if paths is None or self.config is None or self.exports is None:
            self.pending = EVERYTHING
            return
        old, new = self.config, config
        for path in paths:
            top, _, rest = path.partition("/")
            if top == "clients" and "/" not in rest:
                self.pending |= {c.account for c in old.clients + new.clients if c.source.file == path}
            elif top == "plans" and "/" not in rest:
                names = {p.name for p in list(old.plans.values()) + list(new.plans.values()) if p.source.file == path}
                self.pending |= {c.account for c in old.clients + new.clients if c.plan in names}
            elif top == "exports" and rest.partition("/")[0] == str(self.month) and rest.endswith(".csv"):
                kind = EXPORT_KINDS.get(rest.rpartition("/")[2])
                if kind is not None:
                    self.pending |= _changed_accounts(getattr(self.exports, kind), getattr(exports, kind))
            else:
                self.pending = EVERYTHING
                return

    def _bill(self, config: Config, exports: Exports, report: Refresh) -> None:
        assert self.context is not None
        month, ledger = self.month, self.root / "ledger"
        accounts = {c.account for c in config.clients}
        known = {inv.account: inv for inv in self.invoices.values() if _is_draft(self.context.blocks, inv.number)}
        if self.pending is EVERYTHING:
            targets = accounts | set(known)
        else:
            targets = set(self.pending)
        if self.inventories is None or exports != self._split_of:
            self.inventories, self._split_of = split_exports(exports), exports
        only = sorted(targets & accounts)
        if only:
            result = bill_month(config, exports, month, self.context.earlier, only, None,
                                self.context.fx(config, month), self.context.recorded, self.inventories)
        else:  # only clients taken out (or nothing): nothing to bill, their drafts go; the other warnings stay
            result = BillResult(month, (), (), tuple(self.warnings.get(None, [])))
        if result.errors:
            report.problems = list(result.errors)
            return
        result = replace(result, credit_available=self.credit)
        fresh, finalized_warnings = _leave_finalized_alone(result.invoices, self.context.blocks, month)
        report.warnings = list(result.warnings) + finalized_warnings
        all_warnings = self._keep_warnings(config, targets, result.invoices, report.warnings)
        report.billed = len(only)
        replaced = {invoice_number(config.settings, account, month) for account in targets}
        first = not self.invoices
        month_blocks = kept_blocks(self.context.blocks, fresh,
                                   None if first and self.pending is EVERYTHING else replaced)
        files = cast(dict[Path, str], _ledger_files(ledger, config, month, month_blocks, fresh))  # not lean: text
        by_number = {inv.number: inv for inv in fresh}
        report.changes = self._changes(targets, by_number, month_blocks)
        try:
            if first:
                changed = commit_ledger(self.root, files, f"otb watch {month}")
            else:
                texts = [text for number, text in month_blocks.items()
                         if self.context.blocks.get(number, ("", ""))[1] != text]
                changed = journal.commit(self.root, files, self._quick_check(files, texts), f"otb watch {month}")
        except InputErrors as exc:
            report.problems = exc.problems
            return
        report.written += len(changed)
        self._remember(config, exports, month_blocks, fresh, files)
        report.written += self._write_build(config, result, fresh, month_blocks, report.changes, all_warnings)

    def _changes(self, targets: set[str], fresh: dict[str, Invoice], month_blocks: dict[str, str]) -> list[Change]:
        """Each draft that differs from the one in the ledger, by account."""
        assert self.context is not None
        changes = []
        for number in sorted(set(fresh) | {n for n, inv in self.invoices.items() if inv.account in targets}):
            before = self.context.blocks.get(number)
            if before is not None and before[0] == "*":
                continue
            after = month_blocks.get(number)
            if before is not None and after is not None and before[1] == after:
                continue
            old, new = self.invoices.get(number), fresh.get(number)
            if old is None and new is None:
                continue
            ref = new or old
            assert ref is not None
            changes.append(Change(ref.account, ref.client, number, ref.currency,
                                  old.total if old is not None and before is not None else None,
                                  new.total if new is not None and after is not None else None))
        return changes

    def _quick_check(self, files: dict[Path, str], texts: list[str]):
        """The check a refresh commits with: its new entries parse, balance and use open accounts."""
        opened = set(self.opened)
        for text in files.values():
            opened.update(OPEN_RE.findall(text))

        def check(staged: dict[str, Path | None]) -> list[Problem]:
            return [p._replace(message=f"internal error: the change would break the ledger: {p.message}",
                               hint="nothing was changed; please report this")
                    for p in verify.check_entries(texts, opened)]

        return check

    def _remember(self, config: Config, exports: Exports, month_blocks: dict[str, str], fresh,
                  written: dict[Path, str]) -> None:
        """After a commit: the clean inputs, the month file's blocks, the invoices and the accounts now open
        (from the files just written), for the next refresh."""
        assert self.context is not None
        flags = {number: flag for number, (flag, _) in self.context.blocks.items()}
        self.context.blocks = {number: (flags.get(number, "!"), text) for number, text in month_blocks.items()}
        self.config, self.exports, self.pending = config, exports, set()
        for number in [n for n in self.invoices if n not in month_blocks]:
            del self.invoices[number]
        self.invoices.update({inv.number: inv for inv in fresh})
        for text in written.values():
            self.opened.update(OPEN_RE.findall(text))

    def _keep_warnings(self, config: Config, targets: set[str], billed, warnings: list[Problem]) -> list[Problem]:
        """The month's warnings as a whole `otb bill` would give them: those of the clients billed now replace
        theirs, the others' are kept from earlier refreshes, and the ones about no client (unknown accounts in
        the exports) are this refresh's."""
        by_file = {c.source.file: c.account for c in config.clients}
        by_number = {inv.number: inv.account for inv in billed}
        accounts = set(by_file.values())
        kept: dict[str | None, list[Problem]] = {
            a: ws for a, ws in self.warnings.items() if a is not None and a not in targets and a in accounts}
        for warning in warnings:
            account = by_file.get(warning.source.file) if warning.source is not None else None
            account = account or by_number.get(warning.message.split(" ", 1)[0])
            kept.setdefault(account, []).append(warning)
        self.warnings = kept
        return kept.get(None, []) + [w for a in sorted(a for a in kept if a is not None) for w in kept[a]]

    def _write_build(self, config: Config, result, fresh, month_blocks: dict[str, str], changes: list[Change],
                     warnings: list[Problem]) -> int:
        """build/MONTH: the CSVs, ZIP and QuickBooks files of the month as the ledger now is, the bill report, and
        with --pdf the DRAFT PDFs of the drafts billed again; files whose bytes did not change are not touched."""
        build = self.root / "build" / str(self.month)
        files, expected, self.invoices = month_outputs(self.root, config, self.month, month_blocks, self.invoices,
                                                       self.memo, with_zip=False)
        files[build / "bill-report.json"] = bill_report(self.month, replace(result, warnings=tuple(warnings)))
        changed_drafts = {c.number for c in changes}
        if self.pdf:
            from .invoice_pdfs import draft_pdfs

            files.update(draft_pdfs(self.root, config, list(fresh), result.credit_applied))
        changed = {path: data for path, data in files.items() if self.written.get(path) != data}
        self.zip_due = self.zip_due or any(path.suffix == ".csv" for path in changed) or not self.written
        write_outputs(self.root, changed)
        self.written.update(changed)
        stale = stale_outputs(build, expected)
        if not self.pdf:  # a DRAFT PDF of an earlier `otb bill` that no longer shows the draft
            stale += [build / f"{n}.pdf" for n in sorted(changed_drafts) if (build / f"{n}.pdf").exists()]
        remove_outputs(stale)
        for path in stale:
            self.written.pop(path, None)
        return len(changed) + len(stale)


    def settle(self) -> int:
        """Once saves have stopped for a moment (and when the watch stops): the month's ZIP of the per-invoice
        CSVs, left out of each refresh because compressing a thousand files costs more than the rest of it.
        Returns the number of files written."""
        if not self.zip_due:
            return 0
        build = self.root / "build" / str(self.month)
        csvs = {qbcsv.csv_filename(inv): self.memo.csv(inv) for inv in self.invoices.values()}
        path = build / f"invoices-{self.month}.zip"
        data = qbcsv.month_zip(csvs)
        self.zip_due = False
        if self.written.get(path) == data:
            return 0
        write_outputs(self.root, {path: data})
        self.written[path] = data
        return 1


def _is_draft(blocks: dict, number: str) -> bool:
    flag, text = blocks.get(number, ("!", ""))
    return flag != "*" and not invoice_files.is_adjustment(text)


def _changed_accounts(old_rows, new_rows) -> set[str]:
    """Accounts whose rows (line numbers aside) differ between two reads of one export file."""
    def by_account(rows) -> dict[str, list]:
        found: dict[str, list] = {}
        for row in rows:
            found.setdefault(row.account, []).append(tuple(row)[:-1])
        return found

    old, new = by_account(old_rows), by_account(new_rows)
    return {account for account in set(old) | set(new) if old.get(account) != new.get(account)}
