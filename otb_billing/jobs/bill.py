"""`otb bill MONTH`: read the repo, bill the month, and write the ledger and the CSVs all-or-nothing."""

from __future__ import annotations

import collections
import io
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from .. import filecache, forked
from ..books import accounts, invoice_files, postings, writer
from ..books.entries import parse_block
from ..core.errors import InputErrors, Problem, Source
from ..core.model import BillResult, Config, Invoice
from ..core.money import ZERO, fmt_money
from ..core.month import Month
from ..core.rules import invoice_number
from ..outputs import OutputStage, remove_outputs
from ..render import qbcsv, quickbooks
from .check_ahead import bill_checker
from .ledger_edit import commit_ledger, require_good_ledger
from .pipeline import SHARE_HERE, compute, credit_on_account


@dataclass
class BillOutcome:
    result: BillResult
    invoices: tuple[Invoice, ...]  # the invoices (re)written by this run
    written: list[Path] = field(default_factory=list)
    kept_finalized: list[str] = field(default_factory=list)
    summary: str | None = None  # run_bill's `summary` of the result, if it was given one


def run_bill(
    root: Path,
    month: Month,
    only: Collection[str] = (),
    dry_run: bool = False,
    progress: Callable[[], None] | None = None,
    pdf: bool = True,
    pdf_progress: Callable | None = None,
    ahead: forked.Standby | None = None,
    summary: Callable[[BillResult, tuple[Invoice, ...]], str] | None = None,
) -> BillOutcome:
    """Bill the month and, unless `dry_run`, write the ledger files (one checked, all-or-nothing change) and
    then the build/ files (QuickBooks CSVs, their ZIP and, with `pdf`, DRAFT-watermarked PDFs). `ahead`: the
    check's child, forked by the caller before it imported this module (check_ahead.bill_checker); it is this
    function's to end. `summary(result, invoices)`: the text the caller will print, made while the other core
    finishes the check (10,000 clients: the table took 0.16 s after it, on one core), as `outcome.summary`."""
    try:
        if dry_run:
            outcome = _bill(root, month, only, progress, pdf, pdf_progress, None)
            if summary is not None:
                outcome.summary = summary(outcome.result, outcome.invoices)
            return outcome
        require_good_ledger(root)
        # the ledger check, by a child forked while this process is small (check_ahead.bill_checker)
        ahead = ahead or bill_checker(root, month)
        stage = OutputStage(root, background=True)  # build/ files made by a child while the work goes on
        try:
            return _bill(root, month, only, progress, pdf, pdf_progress, stage, ahead, summary)
        finally:
            stage.discard()  # nothing, once published
    finally:
        if ahead is not None:
            ahead.cancel()  # if it was not needed


def _bill(root: Path, month: Month, only: Collection[str], progress, pdf: bool, pdf_progress,
          stage: OutputStage | None, ahead: forked.Standby | None = None,
          summary: Callable[[BillResult, tuple[Invoice, ...]], str] | None = None) -> BillOutcome:
    def when_read(config: Config | None) -> None:  # the billing that follows leaves a core idle
        if ahead is not None:
            ahead.release()

    text = LedgerText() if stage is not None else None
    config, result, blocks = compute(root, month, only, progress, defer_packed=stage is not None,
                                     when_read=when_read, share=text)
    result = replace(result, credit_available=credit_on_account(root / "ledger", month))
    finalized = sorted(number for number, (flag, _) in blocks.items() if flag == "*")
    fresh, warnings = _leave_finalized_alone(result.invoices, blocks, month)
    result = replace(result, warnings=result.warnings + tuple(warnings))
    outcome = BillOutcome(result, fresh, kept_finalized=finalized)
    if stage is None:  # a dry run
        return outcome
    replaced = {invoice_number(config.settings, a, month) for a in only} if only else None
    # the blocks of `fresh` are "": their text is in the month file; the outputs need only their numbers
    month_blocks = kept_blocks(blocks, fresh, replaced, lean=True)
    del blocks  # the month file as it was: what is kept of it is in month_blocks (10,000 clients: 11 MB)
    build = root / "build" / str(month)

    def render_outputs() -> set[str]:  # the names of the files that belong in build/MONTH
        if pdf:
            from .invoice_pdfs import draft_pdfs

            stage.add(draft_pdfs(root, config, fresh, result.credit_applied, pdf_progress))
        files, names, _ = month_outputs(root, config, month, month_blocks, {inv.number: inv for inv in fresh},
                                        memo=text.outputs if text is not None else None, emit=stage.add)
        files[build / "bill-report.json"] = bill_report(month, result)
        stage.add(files)
        stage.flush()  # in a child (below): all of it in the writer's pipe before the child ends
        return names

    outputs = _OutputsBeside(render_outputs, stage, here=pdf)  # PDFs: drawn here (see there)

    def meanwhile() -> None:  # while the other core checks the new ledger
        filecache.save_pending()  # new export rows
        outputs.collect()
        if summary is not None:  # the outputs' child is done: a core to spare while the check goes on
            outcome.summary = summary(outcome.result, outcome.invoices)

    try:
        ledger_files = _ledger_files(root / "ledger", config, month, month_blocks, fresh, lean=True, text=text,
                                     feed=ahead.feed if ahead is not None else None)
        changed = commit_ledger(root, ledger_files, f"otb bill {month}", meanwhile=meanwhile, ahead=ahead)
    finally:
        outputs.cancel()  # if the commit never got as far as collecting them
        filecache.save_pending()  # if it never got as far as that
    try:
        built = stage.publish()
    except (OSError, forked.ChildLost) as exc:  # the ledger is committed: say so, and how to get build/ back
        raise InputErrors([Problem(
            Source(f"build/{month}"), f"the ledger is written, but these files could not be: {exc}",
            f"fix that, then run `otb export {month}` to write build/{month} again")]) from None
    remove_outputs(stale_outputs(build, outputs.names))
    outcome.written = [root / path for path in changed] + built
    return outcome


class _OutputsBeside:
    """The build/ outputs of a bill rendered by a child forked as soon as the invoices exist (forked.Started), while
    this process renders the ledger's new text, stages it and has it checked: a 2-core machine renders both at
    once instead of one after the other. The child hands its files to the stage's writer itself (so `stage` must
    have nothing of this process's waiting when it forks: flushed first) and answers only with their names.
    `collect()` (commit_ledger's `meanwhile`) waits for it; a child lost half way leaves the stage half fed, so it
    is thrown away and the outputs are rendered again here. `here`: render them at `collect()` in this process
    (the draft PDFs' own workers and progress bar belong to this process)."""

    def __init__(self, render: Callable[[], set[str]], stage: OutputStage, here: bool) -> None:
        self._render, self._stage = render, stage
        self.names: set[str] = set()
        stage.flush()
        self._child = None if here else forked.Started(render, nice=OUTPUTS_NICE)

    def collect(self) -> None:
        child, self._child = self._child, None
        if child is None:
            self.names = self._render()
            return
        try:
            self.names = child.result()
        except forked.ChildLost:
            self._stage.discard()  # what the child staged is unknown: all made again, here, without a writer
            self.names = self._render()

    def cancel(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.cancel()


def bill_report(month: Month, result: BillResult) -> bytes:
    """What this bill left unbilled and warned about, for Fava's Billing page (build/MONTH/bill-report.json)."""
    warnings = [str(w) for w in result.warnings]
    report = {"month": str(month), "unbilled": [w for w in warnings if "not billed" in w], "warnings": warnings}
    return (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


OUTPUTS_NICE = 5

EMIT_EVERY = 50  # invoice CSVs handed to month_outputs' `emit` at a time


WITH_OUTPUTS_HERE = 0.72  # of the clients, billed here when the billing child renders the outputs of the rest


class LedgerText:
    """The ledger text of the invoices the billing child billed (pipeline.bill_beside), rendered there meanwhile,
    with the accounts they post to: a month of 10,000 invoices took this process 1 s to render after the billing,
    on the way to the ledger's check, half of it summing each invoice's postings twice (once for the accounts to
    open). Kept by invoice object; any other invoice (this process's own share) is rendered when asked for, its
    postings summed once."""

    def __init__(self) -> None:
        self.outputs = OutputMemo(keep=False)  # and their CSV and QuickBooks rows, if few enough (see there), each
        # used once: the month's 61 MB of CSVs (10,000 clients) were all kept here while the outputs were made
        self._made: dict[str, tuple[Invoice, str | None, list[str]]] = {}  # number -> (invoice, text, accounts)
        self._postings: dict[str, tuple[Invoice, list]] = {}  # number -> (invoice, postings) of this process's own

    def here(self, count: int) -> float:
        """Billed here: SHARE_HERE of the clients, or more where the child renders their CSVs and QuickBooks rows
        too (1,000 clients: a first bill 0.93 of the time with 0.63)."""
        with_outputs = count - int(count * WITH_OUTPUTS_HERE) <= OutputMemo.MADE_AT_MOST
        return WITH_OUTPUTS_HERE if with_outputs else SHARE_HERE

    def make(self, config: Config, invoices: tuple[Invoice, ...]) -> tuple[list[tuple[str, list[str]]], tuple | None]:
        made = []
        for invoice in invoices:
            postings = writer.invoice_postings(invoice)
            made.append((writer.render_invoice(invoice, postings=postings), [name for name, _ in postings]))
        return made, self.outputs.make(config, invoices)

    def take(self, invoices: tuple[Invoice, ...], made: tuple[list[tuple[str, list[str]]], tuple | None]) -> None:
        texts, outputs = made
        for invoice, (text, names) in zip(invoices, texts, strict=True):
            self._made[invoice.number] = (invoice, text, names)
        self.outputs.take(invoices, outputs)

    def _postings_of(self, invoice: Invoice) -> list:
        found = self._postings.get(invoice.number)
        if found is None or found[0] is not invoice:
            found = self._postings[invoice.number] = (invoice, writer.invoice_postings(invoice))
        return found[1]

    def posted(self, invoice: Invoice) -> list[str]:
        """The accounts of writer.invoice_postings(invoice)."""
        found = self._made.get(invoice.number)
        if found is not None and found[0] is invoice:
            return found[2]
        return [name for name, _ in self._postings_of(invoice)]

    def of(self, invoice: Invoice) -> str:
        """writer.render_invoice(invoice), rendered by the child if it was one of its own (each text used once:
        the month file is written once)."""
        found = self._made.get(invoice.number)
        if found is not None and found[0] is invoice and found[1] is not None:
            self._made[invoice.number] = (invoice, None, found[2])
            return found[1]
        kept = self._postings.pop(invoice.number, None)
        return writer.render_invoice(invoice, postings=kept[1] if kept is not None and kept[0] is invoice else None)


class OutputMemo:
    """The CSV text and QuickBooks rows of invoices already rendered, by invoice object, for `otb watch`: a
    refresh renders only the invoices it billed again; and for `otb bill`, those of the invoices its billing child
    billed, rendered there meanwhile (LedgerText), if they are few enough to hold (MADE_AT_MOST: 10,000 clients'
    CSVs are 61 MB; at 1,000 clients this took 0.1 s off the outputs' child, the longest of the three at the end)."""

    MADE_AT_MOST = 2000  # invoices whose CSV and QuickBooks rows a billing child renders (about 8 KB each)

    def __init__(self, keep: bool = True) -> None:
        self._keep = keep  # what it renders itself, for the next time (otb watch); else each kept one used once
        self._csv: dict[str, tuple[Invoice, bytes]] = {}
        self._rows: dict[str, tuple[Invoice, tuple, tuple[int, str]]] = {}

    def csv(self, invoice: Invoice) -> bytes:
        found = self._csv.get(invoice.number) if self._keep else self._csv.pop(invoice.number, None)
        if found is None or found[0] is not invoice:
            found = (invoice, qbcsv.invoice_csv(invoice).encode("utf-8"))
            if self._keep:
                self._csv[invoice.number] = found
        return found[1]

    def make(self, config: Config, invoices: tuple[Invoice, ...]) -> tuple | None:
        """In a billing child: each invoice's CSV and QuickBooks rows, these with the currency column if any client
        is billed in another currency (what the month's file will show but for an old invoice kept in one: then
        rendered again), or None if they are too many to hold."""
        if len(invoices) > self.MADE_AT_MOST:
            return None
        settings, base = config.settings.quickbooks, config.settings.currency
        foreign = any(client.currency and client.currency != base for client in config.clients)
        return settings, foreign, [(qbcsv.invoice_csv(invoice).encode("utf-8"),
                                    quickbooks.invoice_text(invoice, settings, foreign)) for invoice in invoices]

    def take(self, invoices: tuple[Invoice, ...], made: tuple | None) -> None:
        """What make() made in the child, for these invoices (as this process holds them)."""
        if made is None:
            return
        settings, foreign, rendered = made
        for invoice, (csv, rows) in zip(invoices, rendered, strict=True):
            self._csv[invoice.number] = (invoice, csv)
            self._rows[invoice.number] = (invoice, (settings, foreign), rows)

    def quickbooks_text(self, invoice: Invoice, settings, with_currency: bool) -> tuple[int, str]:
        """quickbooks.invoice_text, once per invoice object."""
        found = self._rows.get(invoice.number) if self._keep else self._rows.pop(invoice.number, None)
        if found is None or found[0] is not invoice or found[1] != (settings, with_currency):
            found = (invoice, (settings, with_currency), quickbooks.invoice_text(invoice, settings, with_currency))
            if self._keep:
                self._rows[invoice.number] = found
        return found[2]


def month_outputs(root: Path, config: Config, month: Month, month_blocks: dict[str, str],
                  fresh: dict[str, Invoice], memo: OutputMemo | None = None, with_zip: bool = True,
                  emit: Callable[[dict[Path, bytes]], None] | None = None):
    """build/MONTH's files for every invoice in the month file: its itemized CSV, the month's ZIP of them, and the
    QuickBooks Online import file(s); the names of every file that belongs there (a PDF per invoice too); and the
    month's invoices by number. `emit`: handed the invoice CSVs and the QuickBooks parts as soon as they are made (and
    then not returned).

    Drafts billed now come from this run; finalized invoices from the data stored when they were issued (so their
    rows are the issued ones); adjustment invoices from their ledger entry; drafts of other clients kept by
    --client are billed again from the inputs (or, if those no longer give the draft, read from the ledger)."""
    invoices = month_invoices(root, month, month_blocks, fresh)
    build = root / "build" / str(month)
    csv_of = memo.csv if memo is not None else (lambda inv: qbcsv.invoice_csv(inv).encode("utf-8"))
    names: set[str] = set()
    files: dict[Path, bytes] = {}
    archive = qbcsv.MonthZip() if with_zip else None
    # in file name order, so that the ZIP is built as they come and a CSV is not kept once handed to `emit`
    for name, inv in sorted(((qbcsv.csv_filename(inv), inv) for inv in invoices), key=lambda pair: pair[0]):
        data = csv_of(inv)
        names.add(name)
        files[build / name] = data
        if archive is not None:
            archive.add(name, data)
        if emit is not None and len(files) == EMIT_EVERY:  # the writer starts on them while the rest are made
            emit(files)
            files = {}
    if emit is not None:
        emit(files)
        files = {}
    if archive is not None:  # otb watch builds it once the saves have settled (WatchSession.settle)
        files[build / f"invoices-{month}.zip"] = archive.close()
    qb_text = memo.quickbooks_text if memo is not None else quickbooks.invoice_text
    for name, content in quickbooks.invoice_files(invoices, str(month), config.settings.quickbooks,
                                                  config.settings.currency, qb_text):
        if emit is not None:  # one part at a time: the writer has it before the next is encoded
            emit({build / name: content})
            names.add(name)
        else:
            files[build / name] = content
    expected = ({path.name for path in files} | names | {f"{number}.pdf" for number in month_blocks}
                | {f"invoices-{month}.zip"})
    return files, expected, {inv.number: inv for inv in invoices}


def month_invoices(root: Path, month: Month, month_blocks: dict[str, str], fresh: dict[str, Invoice]) -> list[Invoice]:
    """Every invoice of the month file as an Invoice, by number (see month_outputs)."""
    invoices, kept = {}, {}
    for number, text in sorted(month_blocks.items()):
        if number in fresh:
            invoices[number] = fresh[number]
            continue
        from .invoice_pdfs import invoice_from_entry, load_snapshot  # here: a first bill never needs them

        entry = parse_block(text)
        stored = load_snapshot(root / "ledger", number, entry.date.year) if entry.flag == "*" else None
        if stored is not None:
            invoices[number] = stored[0]
        elif invoice_files.is_adjustment(text) or entry.flag == "*":
            invoices[number] = invoice_from_entry(entry, month)
        else:
            kept[number] = (str(entry.meta.get("account", "")), entry, text)
    if kept:
        try:
            _, result, _ = compute(root, month, sorted({account for account, _, _ in kept.values()}))
            again = {inv.number: inv for inv in result.invoices}
        except InputErrors:
            again = {}
        for number, (_, entry, text) in kept.items():
            invoice = again.get(number)
            invoices[number] = (invoice if invoice is not None and not posting_changes(text, invoice)
                                else invoice_from_entry(entry, month))
    return [invoices[number] for number in sorted(invoices)]


def stale_outputs(build: Path, expected: set[str]) -> list[Path]:
    """CSVs and PDFs in build/MONTH of invoices that are no longer in the month (a client taken out of it)."""
    if not build.is_dir():
        return []
    return sorted(p for p in build.iterdir() if p.suffix in (".csv", ".pdf") and p.name not in expected)


def _leave_finalized_alone(invoices, blocks: dict, month: Month) -> tuple[tuple[Invoice, ...], list[Problem]]:
    """The invoices that may be (re)written, and a warning for each finalized one the inputs would change."""
    fresh, warnings = [], []
    for invoice in invoices:
        flag, text = blocks.get(invoice.number, ("!", ""))
        if flag != "*":
            fresh.append(invoice)
            continue
        changes = posting_changes(text, invoice)
        if changes:
            old, new = changes.pop(0)[1:]
            lines = "; ".join(f"{name} {fmt_money(a)} -> {fmt_money(b)}" for name, a, b in changes)
            warnings.append(Problem(
                Source(f"ledger/invoices/{month.year}/{month}.beancount"),
                f"{invoice.number} is finalized with total {fmt_money(old)}; the inputs now give "
                f"{fmt_money(new)} ({lines}). It was not changed",
                f"bill the difference with `otb bill {month} --adjust {invoice.account}`" if new > old else
                f"credit the difference with `otb credit {invoice.number} --amount {fmt_money(old - new)} "
                '--reason "..."`',
            ))
    return tuple(fresh), warnings


def kept_blocks(blocks: dict, fresh, replaced, lean: bool = False) -> dict[str, str]:
    """The month's blocks by invoice number once `fresh` is written (`lean`: "" for the invoices of `fresh`, whose
    text is rendered as the month file is written; see _ledger_files).

    Kept from the month file: finalized invoices, adjustment invoices (made by --adjust), and with --client the
    drafts of the other clients.
    """
    month_blocks = {
        number: text
        for number, (flag, text) in blocks.items()
        if flag == "*" or invoice_files.is_adjustment(text) or (replaced is not None and number not in replaced)
    }
    month_blocks.update({inv.number: "" if lean else writer.render_invoice(inv) for inv in fresh})
    return month_blocks


def _ledger_files(ledger: Path, config: Config, month: Month, month_blocks: dict[str, str], fresh,
                  lean: bool = False, text: LedgerText | None = None,
                  feed: Callable[[tuple[str, bytes]], bool] | None = None) -> dict[Path, str | bytes]:
    """The new text of each ledger file that changes, in a safe replace order: accounts, month, main, given the
    month's blocks (kept_blocks; an invoice of `fresh` whose block is "" is rendered as the month file is written,
    unless `text` has it already). `lean`: the month file as bytes, each invoice encoded as it is written, so only
    the file's bytes are held; `feed`: handed them too as they come, if they will change the file (MonthFeed)."""
    render = text.of if text is not None else writer.render_invoice
    settings = config.settings
    by_number = {inv.number: inv for inv in fresh}
    files: dict[Path, str | bytes] = {}
    accounts_path = ledger / "accounts.beancount"
    old_accounts = _read(accounts_path) or writer.accounts_skeleton(settings)
    names = {c.account: c.name for c in config.clients}
    accounts_text = writer.with_accounts(old_accounts, writer.accounts_for(fresh, names,
                                                                            text.posted if text else None))
    if accounts_text != old_accounts or not accounts_path.exists():
        files[accounts_path] = accounts_text
    month_path = invoice_files.month_file(ledger, month)
    if month_blocks or month_path.exists():
        ordered = ((number, month_blocks[number] or render(by_number[number]))
                   for number in sorted(month_blocks))
        if lean:
            buffer = io.BytesIO()
            fed = MonthFeed(feed, month_path.relative_to(ledger).as_posix(), month_path) if feed else None
            for part in writer.month_file_parts(month, ordered):
                data = part.encode("utf-8")
                buffer.write(data)
                if fed is not None:
                    fed.add(data)
            if fed is not None:
                fed.close()
            files[month_path] = buffer.getvalue()
        else:
            files[month_path] = "".join(writer.month_file_parts(month, ordered))
        main_path = ledger / "main.beancount"
        old_main = _read(main_path) or writer.main_skeleton(settings)
        main_text = writer.with_plugin(writer.with_include(old_main, month_path.relative_to(ledger).as_posix()))
        queries = ledger / writer.QUERIES_FILE
        old_queries = _read(queries)
        new_queries = writer.with_queries(old_queries) if old_queries else writer.queries_text()
        if new_queries != old_queries:
            files = {queries: new_queries, **files}
            main_text = writer.with_include(main_text, writer.QUERIES_FILE)
        if main_text != old_main or not main_path.exists():
            files[main_path] = main_text
    return files


class MonthFeed:
    """The month file's bytes handed to the check's child as they are rendered (check_ahead.checker_ahead's
    `feed`), a piece of about FEED_EVERY bytes at a time, each ending where an invoice does, for it to parse while
    this process renders the rest (books/preparse.py: Pieces).

    Only if the file will change: while its bytes are those of the file as it is (billed again, nothing changed,
    and then no check at all), only their sizes are kept, and where they first differ they are read back from the
    old file and handed over first (neither file is held whole: 11 MB at 10,000 clients). Only as far as the
    child's pipe takes them at once (forked.Standby.feed): what it cannot take yet waits here for the next piece,
    and what it has not taken when the file is done is left for the check to parse (10,000 clients: the child
    parses more slowly than this process renders; waiting for it would hold up the staging and the check)."""

    FEED_EVERY = 64 << 10

    def __init__(self, feed: Callable[[tuple[str, bytes]], bool], relative: str, path: Path) -> None:
        self._feed, self._relative = feed, relative
        try:  # read a piece's length at a time: the old file is not held whole (10,000 clients: 11 MB)
            self._old: io.BufferedReader | None = open(path, "rb")  # closed once it differs or ends
        except OSError:
            self._old = None
        self._parts: list[bytes] = []  # added, not yet a piece
        self._size = 0
        self._same: list[int] = []  # the sizes of the pieces so far, while they are the old file's bytes
        self._held: collections.deque[bytes] = collections.deque()  # pieces not handed over yet, in order

    def add(self, data: bytes) -> None:
        """The file's next bytes; a piece ends after a part that does not begin with a newline (an invoice's
        block, or the header), so the next begins at a blank line."""
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.FEED_EVERY and not data.startswith(b"\n"):
            self._piece()

    def close(self) -> None:
        """The file is all there: the rest handed over as far as the pipe takes it, unless it is the file as it
        was."""
        if self._parts:
            self._piece()
        if self._old is not None:
            if self._old.read(1):  # the file got shorter
                self._differs()
                self._hand()
            else:  # the very same bytes: nothing to hand over
                self._old.close()
                self._old = None

    def _piece(self) -> None:
        piece = b"".join(self._parts)
        self._parts, self._size = [], 0
        if self._old is not None:
            if self._old.read(len(piece)) == piece:
                self._same.append(len(piece))
                return
            self._differs()
        self._held.append(piece)
        self._hand()

    def _differs(self) -> None:
        """The pieces so far were the old file's bytes: read back from it now, to be handed over first."""
        old, self._old = self._old, None
        assert old is not None
        old.seek(0)
        self._held.extend(old.read(size) for size in self._same)
        old.close()
        self._same = []

    def _hand(self) -> None:
        held = self._held
        while held and self._feed((self._relative, held[0])):
            held.popleft()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def posting_changes(old_text: str, invoice: Invoice) -> list[tuple[str, Decimal, Decimal]]:
    """(account, old, new) for each posting that differs, income and tax shown positive; the total first.

    Empty when the invoice in the ledger and the one the inputs give now post the same amounts.
    """
    old_entry = parse_block(old_text)
    old: dict[str, Decimal] = {}
    for p in old_entry.postings:
        old[p.account] = old.get(p.account, ZERO) + postings.number(p)
    lines = writer.invoice_postings(invoice)
    if invoice.fx_rate is not None:  # income and tax are booked in the base currency at the invoice-date rate
        lines = writer.in_base(lines, invoice.total, invoice.fx_rate)
    new = {name: amount for name, amount in lines}
    receivable = accounts.receivable(invoice.account)
    new[receivable] = invoice.total
    changes = [(name, -old.get(name, ZERO), -new.get(name, ZERO)) for name in sorted(set(old) | set(new))
               if name != receivable and old.get(name, ZERO) != new.get(name, ZERO)]
    if not changes and old.get(receivable, ZERO) == invoice.total:
        return []
    return [("total", old.get(receivable, ZERO), invoice.total)] + changes
