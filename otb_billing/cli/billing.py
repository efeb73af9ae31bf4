"""Commands that bill a month and show its documents: bill, check, init, pdf, show."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from ..core.month import Month
from ..fsutil import write_atomic
from ..gcpause import keep_to_exit
from ..jobs.check_ahead import bill_checker
from ..render.moneyfmt import money
from . import (
    PROGRESS_ABOVE,
    PdfProgress,
    ProblemsFound,
    _count_clients,
    _existing_root,
    _run,
    local_today,
    locked,
    main,
    parse_date,
    parse_month,
    root_option,
)


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT", help="Bill only this account (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@click.option("--dry-run", is_flag=True, help="Compute and print; write nothing.")
@click.option("--adjust", metavar="ACCOUNT", help="Bill only the difference to ACCOUNT's finalized invoice.")
@click.option("--date", "day", callback=parse_date, help="With --adjust: the adjustment's date (default: today).")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Also render DRAFT PDFs into build/MONTH/.")
@root_option
def bill(month: Month, clients, as_json: bool, dry_run: bool, adjust, day, pdf: bool, root: Path):
    """Bill MONTH (YYYY-MM): draft invoices in the ledger and QuickBooks CSVs in build/."""
    root = _existing_root(root)
    if adjust:
        from ..jobs.adjust import run_adjust

        invoice = _run(run_adjust, root, month, adjust, day or local_today(root))
        cur = invoice.currency
        click.echo(f"Adjustment invoice {invoice.number} (draft): {money(invoice.subtotal, cur)} + tax "
                   f"{money(invoice.tax, cur)} = {money(invoice.total, cur)}")
        for line in invoice.lines:
            click.echo(f"  {line.description}: {money(line.amount, cur)}")
        click.echo(f"Review it with `git diff ledger/`, then issue it with `otb finalize {month}`.")
        return
    gc.disable()  # a short run that allocates millions of acyclic objects: collection only costs time
    pdf_bar = PdfProgress("Draft PDFs") if not as_json else None
    try:
        with locked(root):
            # the check's child first, while the billing code is still to be imported (jobs/check_ahead.py)
            ahead = None if dry_run else bill_checker(root, month)
            try:
                from ..jobs.bill import run_bill
                from ..render.report import result_json, result_table

                count = _count_clients(root)
                summary = result_json if as_json else result_table
                if count > PROGRESS_ABOVE and not as_json:
                    with click.progressbar(length=count, label=f"Billing {month}", file=sys.stderr) as bar:
                        outcome = run_bill(root, month, clients, dry_run, progress=lambda: bar.update(1), pdf=pdf,
                                           pdf_progress=pdf_bar, ahead=ahead, summary=summary)
                else:
                    outcome = run_bill(root, month, clients, dry_run, pdf=pdf, pdf_progress=pdf_bar, ahead=ahead,
                                       summary=summary)
            finally:
                if ahead is not None:
                    ahead.cancel()  # run_bill's to end: here only if it never got it
        keep_to_exit(outcome)  # never freed one object at a time (and frozen just below)
    finally:
        gc.freeze()  # all it made lives until exit: spare the last collection at exit walking it (3% of a bill)
        gc.enable()
        if pdf_bar is not None:
            pdf_bar.close()
    text = outcome.summary if outcome.summary is not None else summary(outcome.result, outcome.invoices)
    click.echo(text, nl=False)
    if as_json:
        return
    if outcome.kept_finalized:
        click.echo(f"Finalized invoices kept as they are: {', '.join(outcome.kept_finalized)}")
    if dry_run:
        click.echo("Dry run: nothing was written.")
    elif outcome.written:
        ledger_files = [p for p in outcome.written if "ledger" in p.parts]
        click.echo(f"Wrote {len(ledger_files)} ledger file(s) and {len(outcome.written) - len(ledger_files)} "
                   f"file(s) in build/{month}/. Review with `git diff ledger/`.")
    else:
        click.echo(f"Nothing changed: the ledger and build/{month}/ already hold this bill.")


@main.command()
@click.argument("month", required=False, callback=parse_month)
@root_option
def check(month: Month | None, root: Path):
    """Validate the YAML, the exports of MONTH (if given) and the ledger; exit 1 on any error."""
    from ..jobs.check import run_check

    root = _existing_root(root)
    with locked(root):  # a change a killed run left half done is completed first: check what is really there
        problems, summary = run_check(root, month)
    if problems:
        raise ProblemsFound(problems, wrote_nothing=False)
    click.echo(summary)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="My MSP", show_default=True, help="The business name for settings.yaml.")
def init(directory: Path, name: str):
    """Create a new, empty billing repo in DIRECTORY."""
    from ..jobs.init import run_init

    try:
        created = run_init(directory, name)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created a billing repo in {directory}:")
    for path in created:
        click.echo(f"  {path}")
    click.echo("Next: edit settings.yaml, add clients/ and plans/, drop exports/YYYY-MM/*.csv, run `otb bill YYYY-MM`.")


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT")
@click.option("--force", is_flag=True, help="Render every draft again, even those whose content has not changed.")
@root_option
def pdf(month, clients, force: bool, root: Path):
    """Render MONTH's draft invoices as DRAFT PDFs into build/MONTH/ (finalized ones are in ledger/documents/).
    A draft whose content has not changed since its PDF was made keeps that PDF (see --force)."""
    from ..jobs.show import month_pdfs
    from ..outputs import write_outputs

    root = _existing_root(root)
    bar = PdfProgress("Draft PDFs")
    try:
        files, finals = _run(month_pdfs, root, month, clients, force, bar)
    finally:
        bar.close()
    write_outputs(root, files)
    pdfs = [path for path in sorted(files) if path.suffix == ".pdf"]
    for path in pdfs:
        click.echo(f"Wrote {path.relative_to(root)}")
    if not pdfs:
        click.echo("Every draft PDF is up to date (--force renders them again).")
    for line in finals:
        click.echo(line)


@main.command("import-exports")
@click.argument("month", callback=parse_month)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", required=True, help="The vendor's import profile, e.g. datto-rmm-devices (see README).")
@click.option("--client", "account", help="The client, for an export of one client's data (no organization column).")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@root_option
def import_exports(month, files, profile, account, dry_run, root: Path):
    """Make exports/MONTH/*.csv from an RMM or PSA vendor's export files, through an import profile."""
    from ..jobs.import_exports import run_import_exports

    root = _existing_root(root)
    report = _run(run_import_exports, root, month, list(files), profile, account or "", dry_run)
    imported = report.imported
    verb = "Would write" if dry_run else "Wrote"
    for name, count in report.written.items():
        click.echo(f"{verb} {count} row(s) from {report.profile.title} to {name}")
    for account_, count in sorted(imported.by_client.items()):
        click.echo(f"  {account_}: {count} row(s)")
    moved = {m: len(rows) for m, rows in imported.rows.items() if m != month}
    for other, count in sorted(moved.items()):
        click.echo(f"Note: {count} time row(s) are dated in {other}: they went to exports/{other}/ (not {month})")
    for (column, value), count in sorted(imported.skipped.items()):
        click.echo(f"Skipped as the profile says: {count} row(s) with {column} '{value}'")
    for warning in imported.warnings:
        click.echo(f"Warning: {warning}")
    if imported.unmatched:
        click.echo(f"Not imported: {sum(imported.unmatched.values())} row(s) of organizations no client matches:")
        for organization, count in sorted(imported.unmatched.items()):
            click.echo(f"  '{organization}': {count} row(s)")
        click.echo('Add each to the right client file (match: ["..."]) and import again.')
    if not dry_run and report.written:
        click.echo("Review with `git diff exports/`, then bill the month.")


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Also the PDFs (DRAFT or issued).")
@root_option
def export(month, pdf: bool, root: Path):
    """Write build/MONTH/ again from the ledger: QuickBooks CSVs and ZIP of every invoice of MONTH, and PDFs."""
    from ..jobs.export import run_export

    root = _existing_root(root)
    written = _run(run_export, root, month, pdf)
    click.echo(f"Wrote {len(written)} file(s) in build/{month}/ for every invoice of {month}.")


@main.command()
@click.argument("invoice")
@click.option("--html", "as_html", is_flag=True, help="The printer-friendly HTML view (templates/invoice.html.j2).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not the terminal.")
@click.option("--as-of", "as_of", callback=parse_date, help="Paid and credited amounts on this date (default: today).")
@root_option
def show(invoice, as_html, out, as_of, root: Path):
    """Show one invoice: its lines and totals, or its HTML view with --html."""
    from ..jobs.show import invoice_and_view, invoice_html

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    if as_html:
        text = _run(invoice_html, root, invoice, as_of)
    else:
        from ..render.text import invoice_text

        _, view = _run(invoice_and_view, root, invoice, as_of)
        text = invoice_text(view)
    if out:
        write_atomic(out, text)
        click.echo(f"Wrote {out}")
    else:
        click.echo(text, nl=False)
