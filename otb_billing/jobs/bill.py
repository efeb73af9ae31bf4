"""`otb bill MONTH`: read the repo, bill the month, and write the ledger and the CSVs all-or-nothing."""

from __future__ import annotations

import contextlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Callable, Collection

from beancount import loader

from ..books import accounts, reader, writer
from ..books.documents import parse_block
from ..books.extract import scan_books
from ..books.prices import read_prices
from ..core.billing import bill_month
from ..core.errors import InputErrors, Problem, Source, did_you_mean
from ..core.model import BillResult, Config, Invoice
from ..core.money import ZERO, fmt_money
from ..core.month import Month
from ..core.receivables import derive
from ..core.rules import invoice_number
from ..fsutil import write_all
from ..readers.config import read_config_collecting
from ..readers.exports import read_exports
from ..render import qbcsv


@dataclass
class BillOutcome:
    result: BillResult
    invoices: tuple[Invoice, ...]  # the invoices (re)written by this run
    written: list[Path] = field(default_factory=list)
    kept_finalized: list[str] = field(default_factory=list)


def compute(root: Path, month: Month, only: Collection[str] = (), progress=None) -> tuple[Config, BillResult, dict]:
    """Read everything and bill; raises InputErrors with every problem in the inputs."""
    config, problems = read_config_collecting(root)
    if config is None:  # no usable settings.yaml: exports cannot be read without its timezone
        raise InputErrors(problems)
    exports, export_problems = read_exports(root, month, config.settings.timezone)
    problems += export_problems
    ledger = root / "ledger"
    priors = reader.read_priors(ledger, problems)
    accounts = {c.account for c in config.clients}
    for account in only:
        if account not in accounts:
            problems.append(Problem(None, f"--client {account}: no client file has this account",
                                    did_you_mean(account, accounts)))
    path = reader.month_file(ledger, month)
    blocks = reader.split_blocks(path.read_text(encoding="utf-8"))[1] if path.exists() else {}
    earlier = [p for p in priors if p.month != month]
    # Billing runs even when reading found problems, over the clients and rows that were readable, so that
    # its own problems (an unknown asset type, say) are reported in the same run.
    prices = read_prices(ledger, config.settings.currency, problems)
    fx = {}
    for currency in {c.currency for c in config.clients if c.currency}:
        found, why = prices.rate_on(currency, month.last_day)
        fx[currency] = found or why
    result = bill_month(config, exports, month, earlier, only, progress, fx)
    problems += result.errors
    if problems:
        raise InputErrors(problems)
    return config, result, blocks


def run_bill(
    root: Path,
    month: Month,
    only: Collection[str] = (),
    dry_run: bool = False,
    progress: Callable[[], None] | None = None,
    pdf: bool = True,
) -> BillOutcome:
    """Bill the month and, unless `dry_run`, write the ledger files and then the build/ files (QuickBooks CSVs,
    their ZIP and, with `pdf`, DRAFT-watermarked PDFs)."""
    config, result, blocks = compute(root, month, only, progress)
    result = replace(result, credit_available=credit_on_account(root / "ledger", month))
    finalized = sorted(number for number, (flag, _) in blocks.items() if flag == "*")
    fresh, warnings = _leave_finalized_alone(result.invoices, blocks, month)
    result = replace(result, warnings=result.warnings + tuple(warnings))
    outcome = BillOutcome(result, fresh, kept_finalized=finalized)
    if dry_run:
        return outcome
    replaced = {invoice_number(config.settings, a, month) for a in only} if only else None
    ledger_files, to_check = _ledger_files(root / "ledger", config, month, blocks, fresh, replaced)
    with _in_background(check_ledger_text, *to_check, big=len(fresh) >= BACKGROUND_CHECK_FROM) as checked:
        build = root / "build" / str(month)
        build_files = _build_files(build, month, fresh, replaced)
    checked()  # raises InputErrors before anything is written
    if pdf:
        from .documents import draft_pdfs

        for number, data in draft_pdfs(root, config, fresh, result.credit_applied).items():
            build_files[build / f"{number}.pdf"] = data
    write_all(ledger_files)
    for stale in [*build.glob("*.csv"), *build.glob("*.pdf")] if build.is_dir() and replaced is None else ():
        if stale not in build_files:
            stale.unlink()
    write_all(build_files, durable=False)
    outcome.written = list(ledger_files) + list(build_files)
    return outcome


BACKGROUND_CHECK_FROM = 200  # invoices; below this a second process costs more than it saves


@contextlib.contextmanager
def _in_background(function, *args, big: bool):
    """Run `function(*args)` on the other core while the block runs (inline when the job is small); the
    yielded callable returns once it is done, or raises what it raised."""
    if big:
        with ProcessPoolExecutor(max_workers=1) as pool:
            yield pool.submit(function, *args).result
        return
    error = None
    try:
        function(*args)
    except InputErrors as exc:
        error = exc

    def done():
        if error is not None:
            raise error

    yield done


def credit_on_account(ledger: Path, month: Month) -> dict[str, Decimal]:
    """Each client's unapplied credit (overpayments) at the end of `month`, from the payments in the ledger.

    Only read when there are payments at all, so billing a new repo never loads the whole ledger.
    """
    if not (ledger / "payments").is_dir():
        return {}
    books = scan_books(ledger)
    if books.problems:
        return {}
    return dict(derive(books.docs, books.payments, books.credits, month.last_day).credit)


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


def _ledger_files(ledger: Path, config: Config, month: Month, blocks: dict, fresh, replaced):
    """The new text of each ledger file that changes, in a safe replace order: accounts, month, main; and what
    check_ledger_text needs to verify them.

    Kept from the month file: finalized invoices, adjustment invoices (made by --adjust), and with --client the
    drafts of the other clients.
    """
    settings = config.settings
    month_blocks = {
        number: text
        for number, (flag, text) in blocks.items()
        if flag == "*" or reader.is_adjustment(text) or (replaced is not None and number not in replaced)
    }
    month_blocks.update({inv.number: writer.render_invoice(inv) for inv in fresh})
    files: dict[Path, str] = {}
    accounts_path = ledger / "accounts.beancount"
    old_accounts = _read(accounts_path) or writer.accounts_skeleton(settings)
    names = {c.account: c.name for c in config.clients}
    accounts_text = writer.with_accounts(old_accounts, writer.accounts_for(fresh, names))
    if accounts_text != old_accounts or not accounts_path.exists():
        files[accounts_path] = accounts_text
    month_path = reader.month_file(ledger, month)
    month_text = writer.render_month_file(month, month_blocks.items())
    if month_blocks or month_path.exists():
        files[month_path] = month_text
        main_path = ledger / "main.beancount"
        old_main = _read(main_path) or writer.main_skeleton(settings)
        main_text = writer.with_plugin(writer.with_include(old_main, month_path.relative_to(ledger).as_posix()))
        queries = ledger / writer.QUERIES_FILE
        if not queries.exists():
            files = {queries: writer.queries_text(), **files}
            main_text = writer.with_include(main_text, writer.QUERIES_FILE)
        if main_text != old_main or not main_path.exists():
            files[main_path] = main_text
    return files, (settings.currency, accounts_text, month_text)


def _build_files(build: Path, month: Month, fresh, replaced) -> dict[Path, bytes]:
    """QuickBooks CSVs of the (re)billed invoices and the month's ZIP of every CSV.

    With --client, the other invoices' CSVs already in build/ stay and go into the ZIP too.
    """
    csvs = {qbcsv.csv_filename(inv): qbcsv.invoice_csv(inv).encode("utf-8") for inv in fresh}
    if replaced is not None and build.is_dir():
        for existing in sorted(build.glob("*.csv")):
            invoice = next((n for n in replaced if existing.name.endswith(f"-{n}.csv")), None)
            if invoice is None and existing.name not in csvs:
                csvs[existing.name] = existing.read_bytes()
    files = {build / name: content for name, content in csvs.items()}
    files[build / f"invoices-{month}.zip"] = qbcsv.month_zip(csvs)
    return files


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def posting_changes(old_text: str, invoice: Invoice) -> list[tuple[str, Decimal, Decimal]]:
    """(account, old, new) for each posting that differs, income and tax shown positive; the total first.

    Empty when the invoice in the ledger and the one the inputs give now post the same amounts.
    """
    old_entry = parse_block(old_text)
    old: dict[str, Decimal] = {}
    for p in old_entry.postings:
        old[p.account] = old.get(p.account, ZERO) + p.units.number
    postings = writer.invoice_postings(invoice)
    if invoice.foreign:  # income and tax are booked in the base currency at the invoice-date rate
        postings = writer.in_base(postings, invoice.total, invoice.fx_rate)
    new = {name: amount for name, amount in postings}
    receivable = accounts.receivable(invoice.account)
    new[receivable] = invoice.total
    changes = [(name, -old.get(name, ZERO), -new.get(name, ZERO)) for name in sorted(set(old) | set(new))
               if name != receivable and old.get(name, ZERO) != new.get(name, ZERO)]
    if not changes and old.get(receivable, ZERO) == invoice.total:
        return []
    return [("total", old.get(receivable, ZERO), invoice.total)] + changes


def check_ledger_text(currency: str, accounts_text: str, month_text: str) -> None:
    """Load the new month with the chart of accounts in Beancount; any error stops the run before writing."""
    text = f'option "operating_currency" "{currency}"\n' + accounts_text + "\n" + month_text
    _, errors, _ = loader.load_string(text)
    if errors:
        raise InputErrors(
            Problem(None, f"internal error: the generated ledger does not pass bean-check: {e.message}",
                    "nothing was written; please report this with the inputs")
            for e in errors
        )
