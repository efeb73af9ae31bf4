"""`otb bill MONTH`: read the repo, bill the month, and write the ledger and the CSVs all-or-nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection

from beancount import loader

from ..books import reader, writer
from ..core.billing import bill_month
from ..core.errors import InputErrors, Problem, Source, did_you_mean
from ..core.model import BillResult, Config, Invoice
from ..core.money import fmt_money
from ..core.month import Month
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
    if problems:
        raise InputErrors(problems)
    path = reader.month_file(ledger, month)
    blocks = reader.split_blocks(path.read_text(encoding="utf-8"))[1] if path.exists() else {}
    earlier = [p for p in priors if p.month != month]
    result = bill_month(config, exports, month, earlier, only, progress)
    if result.errors:
        raise InputErrors(result.errors)
    return config, result, blocks


def run_bill(
    root: Path,
    month: Month,
    only: Collection[str] = (),
    dry_run: bool = False,
    progress: Callable[[], None] | None = None,
) -> BillOutcome:
    config, result, blocks = compute(root, month, only, progress)
    settings = config.settings
    finalized = {number for number, (flag, _) in blocks.items() if flag == "*"}
    warnings = list(result.warnings)
    fresh = []
    for invoice in result.invoices:
        if invoice.number in finalized:
            old = _finalized_total(blocks[invoice.number][1])
            if old is not None and old != fmt_money(invoice.total):
                warnings.append(Problem(Source(f"ledger/invoices/{month.year}/{month}.beancount"),
                                        f"{invoice.number} is finalized with total {old}; the inputs now give "
                                        f"{fmt_money(invoice.total)}. It was not changed",
                                        "issue a credit note or an adjustment invoice"))
            continue
        fresh.append(invoice)
    result = BillResult(result.month, result.invoices, result.errors, tuple(warnings), result.previous_totals)
    outcome = BillOutcome(result, tuple(fresh), kept_finalized=sorted(finalized))
    if dry_run:
        return outcome

    replaced = {invoice_number(settings, a, month) for a in only} if only else None
    kept = {
        number: text
        for number, (flag, text) in blocks.items()
        if flag == "*" or (replaced is not None and number not in replaced)
    }
    month_blocks = dict(kept)
    month_blocks.update({inv.number: writer.render_invoice(inv) for inv in fresh})

    ledger = root / "ledger"
    files: dict[Path, str | bytes] = {}
    accounts_path = ledger / "accounts.beancount"
    accounts_text = accounts_path.read_text(encoding="utf-8") if accounts_path.exists() else writer.accounts_skeleton(settings)
    names = {c.account: c.name for c in config.clients}
    needed = writer.accounts_for(fresh, names)
    new_accounts_text = writer.with_accounts(accounts_text, needed)
    if new_accounts_text != accounts_text or not accounts_path.exists():
        accounts_text = new_accounts_text
        files[accounts_path] = accounts_text
    month_path = reader.month_file(ledger, month)
    month_text = writer.render_month_file(month, month_blocks.items())
    if month_blocks or month_path.exists():
        files[month_path] = month_text
        main_path = ledger / "main.beancount"
        main_text = main_path.read_text(encoding="utf-8") if main_path.exists() else writer.main_skeleton(settings)
        new_main = writer.with_include(main_text, month_path.relative_to(ledger).as_posix())
        if new_main != main_text or not main_path.exists():
            files[main_path] = new_main
    check_ledger_text(settings.currency, accounts_text, month_text)

    build = root / "build" / str(month)
    csvs = {qbcsv.csv_filename(inv): qbcsv.invoice_csv(inv).encode("utf-8") for inv in fresh}
    if only and build.is_dir():
        replaced_names = {name for name in (p.name for p in build.glob("*.csv")) if any(name.endswith(f"-{n}.csv") for n in replaced)}
        for existing in sorted(build.glob("*.csv")):
            if existing.name not in csvs and existing.name not in replaced_names:
                csvs[existing.name] = existing.read_bytes()
    build_files: dict[Path, str | bytes] = {build / name: content for name, content in csvs.items()}
    build_files[build / f"invoices-{month}.zip"] = qbcsv.month_zip(csvs)

    write_all(files)
    if build.is_dir():
        for stale in build.glob("*.csv"):
            if stale.name not in csvs:
                stale.unlink()
    write_all(build_files, durable=False)
    outcome.written = list(files) + list(build_files)
    return outcome


def _finalized_total(text: str) -> str | None:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Assets:Receivable:"):
            parts = stripped.split()
            return parts[1] if len(parts) > 1 else None
    return None


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
