"""Read and bill: the pipeline that `otb bill`, `check`, `show`, `finalize`, `adjust`, `export` and `watch` share.

`compute()` reads the YAML and the month's exports, takes what billing needs from the ledger (earlier invoices for
prepaid pools and month-over-month changes, the prices a finalized invoice was issued at, exchange rates) and bills;
every problem found on the way is raised together as InputErrors.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from .. import forked
from ..books import invoice_files
from ..books.extract import scan_books
from ..books.prices import Prices, read_prices
from ..core.billing import bill_month, split_exports
from ..core.errors import InputErrors, Problem, Source, did_you_mean
from ..core.model import BillResult, Config, Exports, Invoice, PriceBook, PriorInvoice
from ..core.month import Month
from ..filecache import PERSISTED_KINDS, FileCache, persisted, stat_key, store_ahead, store_rows_ahead
from ..readers.config import client_reader, read_config_collecting
from ..readers.exports import exports_kept, read_exports
from ..readers.settings import read_settings


@dataclass
class LedgerContext:
    """What billing `month` takes from the ledger: the month file's blocks (number -> (flag, text)), the invoices
    of other months, the prices finalized invoices of the month were issued at, and the exchange rates."""

    blocks: dict[str, tuple[str, str]]
    earlier: list[PriorInvoice]
    recorded: dict[str, PriceBook]
    prices: Prices

    def fx(self, config: Config, month: Month) -> dict:
        """Each foreign invoice currency's (date, rate) for the month, or why there is none."""
        found = {}
        for currency in {c.currency for c in config.clients if c.currency}:
            rate, why = self.prices.rate_on(currency, month.last_day)
            found[currency] = rate or why
        return found


def ledger_context(root: Path, month: Month, base_currency: str, problems: list[Problem],
                   ahead: PriorsAhead | None = None) -> LedgerContext:
    """`ahead`: the invoices of the other months, read by a child since the command began (PriorsAhead)."""
    ledger = root / "ledger"
    path = invoice_files.month_file(ledger, month)
    priors = ahead.result(problems) if ahead is not None else invoice_files.read_priors(ledger, problems, skip=path)
    blocks = invoice_files.split_blocks(path.read_text(encoding="utf-8"))[1] if path.exists() else {}
    return LedgerContext(blocks, [p for p in priors if p.month != month], recorded_prices(ledger, blocks, month),
                         read_prices(ledger, base_currency, problems))


class PriorsAhead:
    """The invoices of the ledger's other month files, read by a child forked when the command begins, if some of
    those files are not in the cache (the month just billed, typically): Beancount's parse of a month file of
    10,000 invoices is about 150 MB of entries for a few MB of invoices, and held here it stayed in this process's
    memory, and in every child forked from it after (10,000 clients, a bill of the month after: 461 MiB at its
    largest instead of 366). The child hands back the invoices, the problems and what it parsed for the cache;
    lost, the files are read here."""

    def __init__(self, root: Path, month: Month, cache: FileCache) -> None:
        self._ledger, self._cache = root / "ledger", cache
        self._skip = invoice_files.month_file(self._ledger, month)
        self._child: forked.Started | None = forked.Started(self._read)

    def _read(self) -> tuple[list[PriorInvoice], list[Problem], dict]:
        before, found = self._cache.snapshot(), list[Problem]()
        priors = invoice_files.read_priors(self._ledger, found, skip=self._skip)
        return priors, found, self._cache.read_since(before, ("priors",))

    def result(self, problems: list[Problem]) -> list[PriorInvoice]:
        child, self._child = self._child, None
        if child is None:  # asked twice: not meant to be
            raise RuntimeError("the priors read ahead were already taken")
        try:
            priors, found, entries = child.result()
        except forked.ChildLost:
            return invoice_files.read_priors(self._ledger, problems, skip=self._skip)
        problems += found
        self._cache.adopt_read(entries)
        return priors

    def cancel(self) -> None:
        if self._child is not None:
            self._child.cancel()

    @staticmethod
    def needed(root: Path, month: Month, cache: FileCache | None) -> bool:
        """Whether some other month file must be parsed (and a child can be had for it)."""
        folder = root / "ledger" / "invoices"
        if cache is None or not hasattr(os, "fork") or not folder.is_dir():
            return False
        skip = invoice_files.month_file(root / "ledger", month)
        return any(path != skip and not cache.kept("priors", path, None) for path in folder.glob("*/*.beancount"))


def unknown_accounts(config: Config, only: Collection[str]) -> list[Problem]:
    accounts = {c.account for c in config.clients}
    return [Problem(None, f"--client {account}: no client file has this account", did_you_mean(account, accounts))
            for account in only if account not in accounts]


def compute(root: Path, month: Month, only: Collection[str] = (), progress=None, defer_packed: bool = False,
            when_read: Callable[[Config | None], object] | None = None, share: ChildShare | None = None
            ) -> tuple[Config, BillResult, dict]:
    """Read everything and bill; raises InputErrors with every problem in the inputs. Files unchanged since an
    earlier run are not parsed again (filecache.persisted; `defer_packed`: see there, and the parses are stored by a
    child while this process bills: filecache.store_ahead). `when_read(config)` is called
    once the YAML and CSV files are read, which may take both cores (see _read_config), before the billing, which
    takes one. Many clients are billed by two processes at once (bill_beside; `share`: see there)."""
    with persisted(root, defer_packed) as cache:
        return _compute(root, month, only, progress, cache, when_read, defer_packed, share)


def _compute(root: Path, month: Month, only: Collection[str], progress, cache: FileCache | None,
             when_read: Callable[[Config | None], object] | None = None, defer_packed: bool = False,
             share: ChildShare | None = None) -> tuple[Config, BillResult, dict]:
    ahead = PriorsAhead(root, month, cache) if cache is not None and PriorsAhead.needed(root, month, cache) else None
    try:
        return _bill_inputs(root, month, only, progress, cache, when_read, defer_packed, ahead, share)
    finally:
        if ahead is not None:
            ahead.cancel()  # if it was never asked for


def _bill_inputs(root: Path, month: Month, only: Collection[str], progress, cache: FileCache | None,
                 when_read: Callable[[Config | None], object] | None, defer_packed: bool,
                 ahead: PriorsAhead | None, share: ChildShare | None = None) -> tuple[Config, BillResult, dict]:
    config, problems, read = _read_config(root, month, cache, defer_packed)
    if when_read is not None:
        when_read(config)
    if config is None:  # no usable settings.yaml: exports cannot be read without its timezone
        raise InputErrors(problems)
    exports, export_problems = read or read_exports(root, month, config.settings.timezone,
                                                    config.settings.number_format)
    del read
    problems += export_problems
    problems += unknown_accounts(config, only)
    # Billing runs even when reading found problems, over the clients and rows that were readable, so that
    # its own problems (an unknown asset type, say) are reported in the same run.
    context = ledger_context(root, month, config.settings.currency, problems, ahead)
    if defer_packed:  # every parse the cache keeps is made: stored by a child while this process bills
        store_ahead(cache, lambda store: forked.memory_to_spare() and forked.background(store))
    fingerprint = exports_fingerprint(root, month)
    inventories = split_exports(exports)
    del exports  # the rows live on in `inventories` alone, and billing drops each client's once billed
    result = bill_beside(config, month, context.earlier, only, progress, context.fx(config, month),
                         context.recorded, inventories, lambda: _rows_again(root, month, config, fingerprint), share)
    problems += result.errors
    if problems:
        raise InputErrors(problems)
    return config, result, context.blocks


PICKLE = pickle.HIGHEST_PROTOCOL
PICKLED_TOGETHER = 20  # invoices: 1,000 of them pickled 0.13 -> 0.11 s and read back 0.08 -> 0.06 s (vs one each)
SPLIT_ABOVE = 200  # clients: fewer are billed here alone (a fork and the child's answer cost more than they save)
SHARE_HERE = 0.63  # of the clients, billed here: the child pickles its invoices, which this process reads back
# (10,000 clients: 0.9 s to pickle, 0.4 to read back), and otb bill's renders their ledger text (ChildShare.here)


class ChildShare(Protocol):
    """What else the billing child of bill_beside makes of the invoices it bills, for the caller: otb bill has it
    render their ledger text (jobs/bill.py, LedgerText), work this process would otherwise do after the billing."""

    def here(self, count: int) -> float:
        """The part of `count` clients to bill in this process, the rest being the child's, given what make() will
        make of theirs (SHARE_HERE if it makes little)."""

    def make(self, config: Config, invoices: tuple[Invoice, ...]) -> Any:
        """In the child: what it makes of its invoices (it must pickle)."""

    def take(self, invoices: tuple[Invoice, ...], made: Any) -> None:
        """Here: the child's invoices (as this process now holds them) and what it made of them."""


def bill_beside(config: Config, month: Month, earlier: list[PriorInvoice], only: Collection[str], progress,
                fx: dict, recorded: dict[str, PriceBook], inventories: dict, again: Callable[[], dict],
                share: ChildShare | None = None) -> BillResult:
    """bill_month(..., consume=True), the later clients (by account) billed by a forked child meanwhile: billing is
    one core's work, and the other is idle by then (10,000 clients: 2.6 s of billing). The child hands back its
    invoices, errors and warnings, which follow this process's own, in the order one process would have made them,
    and what `share` made of its invoices.

    Once it has billed its own clients, this process lets the child's clients' rows go (10,000 clients: 80 MiB more
    at the end otherwise). If the child is lost, `again()` gives the rows anew (read again) and its clients are
    billed here after: the same bill, only later (and `share` makes nothing). Without a child (no fork, no memory
    to spare), the rows are kept and its clients billed here."""
    accounts = sorted(client.account for client in config.clients if not only or client.account in only)
    if len(accounts) <= SPLIT_ABOVE:
        return bill_month(config, None, month, earlier, only, progress, fx, recorded, inventories, consume=True)
    cut = int(len(accounts) * (share.here(len(accounts)) if share is not None else SHARE_HERE))
    mine, theirs = frozenset(accounts[:cut]), frozenset(accounts[cut:])

    def bill(accounts: frozenset[str], rows: dict, progress=None, first: bool = True) -> BillResult:
        return bill_month(config, None, month, earlier, accounts, progress, fx, recorded, rows,
                          consume=True, warn_unknown=first)

    def bill_there() -> tuple[list[bytes], tuple, tuple, Any]:
        there = bill(theirs, inventories, first=False)
        made = share.make(config, there.invoices) if share is not None else None
        # a pickle per PICKLED_TOGETHER invoices: one of them all kept a memo of each of its million objects (+86 MiB
        # in the child); one per invoice wrote each class and field name once per invoice
        invoices = there.invoices
        return ([pickle.dumps(invoices[start:start + PICKLED_TOGETHER], PICKLE)
                 for start in range(0, len(invoices), PICKLED_TOGETHER)], there.errors, there.warnings, made)

    forked.give_back_memory()  # what is freed and not handed back to the system would count in the child too
    started = forked.Started(bill_there)
    try:
        here = bill(mine, inventories, progress)
    except BaseException:  # an interrupt, say: the child's answer will not be wanted
        started.cancel()
        raise
    there = None
    if started.pid:
        # freed once this process has billed its own, while the child still works (10,000 clients: 0.24 s, which
        # held up this process's billing when done first); before the month's peak, at the end, all the same
        for account in theirs:
            inventories.pop(account, None)
        with contextlib.suppress(forked.ChildLost):
            pickled, errors, warnings, made = started.result()
            there = BillResult(month, tuple(invoice for data in pickled for invoice in pickle.loads(data)), errors,
                               warnings)
            del pickled
            if share is not None:
                share.take(there.invoices, made)
        if there is None:  # lost: its clients' rows again
            inventories = again()
    if there is None:
        there = bill(theirs, inventories, first=False)
    if progress is not None:
        for _ in theirs:
            progress()
    return replace(here, invoices=here.invoices + there.invoices, errors=here.errors + there.errors,
                   warnings=here.warnings + there.warnings)


def exports_fingerprint(root: Path, month: Month) -> list[tuple]:
    """Each file of exports/MONTH by name and stat (filecache.stat_key), to know whether it changed since."""
    folder = root / "exports" / str(month)
    return [(path.name, stat_key(path)) for path in sorted(folder.iterdir())] if folder.is_dir() else []


def _rows_again(root: Path, month: Month, config: Config, fingerprint: list[tuple]) -> dict:
    """The month's rows split by account, read again (for the clients of a lost billing child, bill_beside); the
    files must be the ones read the first time."""
    if exports_fingerprint(root, month) != fingerprint:
        raise InputErrors([Problem(Source(f"exports/{month}"), "the exports changed while they were being billed",
                                   f"run `otb bill {month}` again")])
    exports, _ = read_exports(root, month, config.settings.timezone, config.settings.number_format)
    return split_exports(exports)


def _read_config(root: Path, month: Month, cache: FileCache | None, store_rows: bool = False
                 ) -> tuple[Config | None, list[Problem], tuple[Exports, list[Problem]] | None]:
    """read_config_collecting, and the month's exports if they were read meanwhile (else None): if they must be
    read anew and most client files too, a forked child reads the YAML while this process reads the CSVs, so that
    the two cores read at once. With `store_rows` (otb bill), the rows are then packed and stored by a child forked
    at once (filecache.store_rows_ahead), while this process waits for the YAML.

    The child only warms the cache: it hands back what it parsed, and the reading that follows here takes it from
    there (a child that fails leaves it to that reading). That way round, what crosses between the processes is
    the clients (1,000 of them: 0.04 s to pickle and read back), not the export rows, which are more (75,000 rows:
    0.15 s to pack and unpack) and are read here, where billing needs them. Not inside `otb watch`, whose cache
    lives in memory and reads one changed file at a time."""
    if cache is None or not hasattr(os, "fork"):
        return (*read_config_collecting(root), None)
    settings = read_settings(root, [])  # its problems: reported by the full reading
    if (settings is None or exports_kept(root, month, settings.timezone, settings.number_format)
            or cache.holds_most("client", root / "clients", "*.yaml")):
        return (*read_config_collecting(root), None)  # little to read at least on one side: not worth a child
    here = os.getpid()
    files, read_files = client_reader(root)
    size = max(YAML_SHARE, -(-len(files) // MAX_SHARES))
    shares = _Shares([files[start:start + size] for start in range(0, len(files), size)])

    def read_yaml_ahead() -> dict:
        before = cache.snapshot()
        for paths in shares.taken():
            read_files(paths)
        return {} if os.getpid() == here else cache.read_since(before, PERSISTED_KINDS)

    read: list[tuple[Exports, list[Problem]]] = []

    def read_exports_here() -> None:
        read.append(read_exports(root, month, settings.timezone, settings.number_format))
        if store_rows:
            store_rows_ahead(cache, lambda store: forked.memory_to_spare() and forked.background(store))
        for paths in shares.taken():  # the client files the child has not begun yet: read here, as it reads on
            read_files(paths)

    try:
        cache.adopt_read(forked.beside(read_yaml_ahead, read_exports_here))
    finally:
        shares.close()
    return (*read_config_collecting(root), read[0])


YAML_SHARE = 25  # client files taken at a time by the process that reads them (see _Shares); more beyond
MAX_SHARES = 1000  # shares: their numbers fill 4 KB, what the smallest pipe holds before a write would wait


class _Shares:
    """Work that two processes share, handed out one share at a time through a pipe filled before the fork with
    the shares' numbers: a read of a pipe is atomic, so each share goes to one process, whichever asks first."""

    def __init__(self, shares: list) -> None:
        self._shares = shares
        self._read, write = os.pipe()
        try:
            os.set_blocking(self._read, False)  # all of it is in the pipe: empty means done, never wait
            os.write(write, b"".join(n.to_bytes(4, "little") for n in range(len(shares))))
        finally:
            os.close(write)

    def taken(self) -> Iterator:
        """The shares this process gets, until none is left."""
        while len(token := _read_token(self._read)) == 4:
            yield self._shares[int.from_bytes(token, "little")]

    def close(self) -> None:
        os.close(self._read)


def _read_token(fd: int) -> bytes:
    try:
        return os.read(fd, 4)
    except BlockingIOError:
        return b""


def recorded_prices(ledger: Path, blocks: dict, month: Month) -> dict[str, PriceBook]:
    """By account: the prices the month's finalized invoice was issued at, from the data stored with its PDF, so
    billing a finalized month again compares what was billed, not a price changed since (those apply later)."""
    found = {}
    for number, (flag, text) in blocks.items():
        if flag != "*" or invoice_files.is_adjustment(text):
            continue
        from .invoice_pdfs import load_snapshot  # here: PDF code a month without finalized invoices never needs

        stored = load_snapshot(ledger, number, month.last_day.year)
        if stored is not None and stored[0].prices is not None:
            found[stored[0].account] = stored[0].prices
    return found


def credit_on_account(ledger: Path, month: Month) -> dict[str, Decimal]:
    """Each client's unapplied credit (overpayments) at the end of `month`, from the payments in the ledger.

    Only read when there are payments at all, so billing a new repo never loads the whole ledger.
    """
    if not (ledger / "payments").is_dir():
        return {}
    books = scan_books(ledger)
    if books.problems:
        return {}
    return dict(books.book(month.last_day).credit)
