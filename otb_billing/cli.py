"""The `otb` command: parse arguments, call a job, print. No billing logic lives here."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import zoneinfo
from pathlib import Path

import click

from .core.errors import InputErrors
from .core.money import parse_decimal
from .core.month import Month
from .fsutil import Busy, repo_lock, write_atomic
from .readers.config import read_settings
from .render.report import money

PROGRESS_ABOVE = 300


class ProblemsFound(click.ClickException):
    """Every problem of the run, one per line, then the promise that nothing was written."""

    def __init__(self, problems, wrote_nothing: bool = True):
        self.problems = list(problems)
        tail = "\nNothing was written." if wrote_nothing else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) found:\n{lines}{tail}")

    def format_message(self) -> str:
        return self.message


def root_option(func):
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=".",
        show_default=True,
        help="The billing repo (settings.yaml, plans/, clients/, exports/, ledger/).",
    )(func)


def parse_month(ctx, param, value):
    if value is None:
        return None
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def parse_date(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write it as YYYY-MM-DD") from None


def parse_amount(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_decimal(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def local_today(root: Path) -> dt.date:
    """Today in the billing repo's time zone: the default of every --date and --as-of."""
    problems: list = []
    settings = read_settings(root, problems)
    zone = zoneinfo.ZoneInfo(settings.timezone if settings else "UTC")
    return dt.datetime.now(zone).date()


def _run(job, *args, **kwargs):
    """Call a job under the repo lock, turning input problems into one clear message."""
    root = args[0]
    try:
        with repo_lock(root):
            return job(*args, **kwargs)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems) from None
    except Busy as exc:
        raise click.ClickException(str(exc)) from None


def _parse_at(at: str | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"'{at}' is not a date and time", param_hint="--at") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _existing_root(root: Path) -> Path:
    if not root.is_dir():
        raise click.ClickException(f"--root {root}: no such folder")
    return root


def _count_clients(root: Path) -> int:
    folder = root / "clients"
    return sum(1 for _ in folder.glob("*.yaml")) if folder.is_dir() else 0


def client_statement_safe(books, account, start, end):
    from .jobs.reports import client_statement

    try:
        return client_statement(books, account, start, end)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems, wrote_nothing=False) from None

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otb-billing")
def main():
    """OTB Billing: plain-text billing for managed service providers."""


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
    from .jobs.bill import run_bill
    from .render.report import result_json, result_table

    root = _existing_root(root)
    if adjust:
        from .jobs.adjust import run_adjust

        invoice = _run(run_adjust, root, month, adjust, day or local_today(root))
        cur = invoice.currency
        click.echo(f"Adjustment invoice {invoice.number} (draft): {money(invoice.subtotal, cur)} + tax "
                   f"{money(invoice.tax, cur)} = {money(invoice.total, cur)}")
        for line in invoice.lines:
            click.echo(f"  {line.description}: {money(line.amount, cur)}")
        click.echo(f"Review it with `git diff ledger/`, then issue it with `otb finalize {month}`.")
        return
    gc.disable()  # a short run that allocates millions of acyclic objects: collection only costs time
    try:
        with repo_lock(root):
            count = _count_clients(root)
            if count > PROGRESS_ABOVE and not as_json:
                with click.progressbar(length=count, label=f"Billing {month}", file=sys.stderr) as bar:
                    outcome = run_bill(root, month, clients, dry_run, progress=lambda: bar.update(1), pdf=pdf)
            else:
                outcome = run_bill(root, month, clients, dry_run, pdf=pdf)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems) from None
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        gc.enable()
    if as_json:
        click.echo(result_json(outcome.result, outcome.invoices), nl=False)
        return
    click.echo(result_table(outcome.result, outcome.invoices), nl=False)
    if outcome.kept_finalized:
        click.echo(f"Finalized invoices kept as they are: {', '.join(outcome.kept_finalized)}")
    if dry_run:
        click.echo("Dry run: nothing was written.")
    elif outcome.written:
        ledger_files = [p for p in outcome.written if "ledger" in p.parts]
        click.echo(f"Wrote {len(ledger_files)} ledger file(s) and {len(outcome.written) - len(ledger_files)} "
                   f"file(s) in build/{month}/. Review with `git diff ledger/`.")


@main.command()
@click.argument("month", required=False, callback=parse_month)
@root_option
def check(month: Month | None, root: Path):
    """Validate the YAML, the exports of MONTH (if given) and the ledger; exit 1 on any error."""
    from .jobs.check import run_check

    root = _existing_root(root)
    problems, summary = run_check(root, month)
    if problems:
        raise ProblemsFound(problems, wrote_nothing=False)
    click.echo(summary)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="My MSP", show_default=True, help="The business name for settings.yaml.")
def init(directory: Path, name: str):
    """Create a new, empty billing repo in DIRECTORY."""
    from .jobs.init import run_init

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
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT", help="Finalize only this account's invoice.")
@click.option("--at", "at", help="UTC time to record as `finalized` (default: now), e.g. 2024-11-01T09:00:00Z.")
@root_option
def finalize(month: Month, clients, at: str | None, root: Path):
    """Issue MONTH's draft invoices: flag *, `finalized` and `digest`; never rewritten after this."""
    from .jobs.finalize import run_finalize

    root = _existing_root(root)
    when = _parse_at(at)
    done = _run(run_finalize, root, month, clients, when)
    if not done:
        click.echo(f"No drafts to finalize in {month}.")
        return
    click.echo(f"Finalized {len(done)} invoice(s): {', '.join(done)}")


@main.command()
@click.argument("account", required=False)
@click.argument("amount", required=False, callback=parse_amount)
@click.option("--date", "day", callback=parse_date, help="Date received (default: today).")
@click.option("--ref", help="Your reference (cheque number, bank reference); default PAY-<account>-<date>.")
@click.option("--method", type=click.Choice(["cheque", "eft", "card", "cash", "crypto"]), default="eft",
              show_default=True)
@click.option("--invoice", "invoices", multiple=True, metavar="N", help="Settle this invoice (repeatable).")
@click.option("--reverse", metavar="REF", help="Reverse payment REF (bounced cheque, charge-back).")
@click.option("--note", default="", help="A note kept with the entry.")
@click.option("--rate", callback=parse_amount, help="For a client in another currency: the day's rate "
              "(default: ledger/prices.beancount).")
@root_option
def pay(account, amount, day, ref, method, invoices, reverse, note, rate, root: Path):
    """Record a payment of AMOUNT from client ACCOUNT, or reverse one with --reverse REF."""
    from .jobs.payments import run_pay, run_reverse

    root = _existing_root(root)
    day = day or local_today(root)
    if reverse:
        if account or amount is not None:
            raise click.UsageError("--reverse REF takes no ACCOUNT or AMOUNT")
        result = _run(run_reverse, root, reverse, day, note)
        click.echo(f"Reversed payment {reverse} as {result.ref}; reopened: "
                   f"{', '.join(n for n, _ in result.allocations) or 'credit on account'}")
        return
    if not account or amount is None:
        raise click.UsageError("give ACCOUNT and AMOUNT, e.g. otb pay 620547 4830.75")
    result = _run(run_pay, root, account, amount, day, ref, method, invoices, note, rate)
    for number, part in result.allocations:
        click.echo(f"  {number}: {money(part, result.currency)}")
    if result.unapplied:
        click.echo(f"  credit on account: {money(result.unapplied, result.currency)} (applied to the next invoices)")
    click.echo(f"Recorded payment {result.ref} in {result.path.relative_to(root)}")


@main.command()
@click.argument("invoice")
@click.option("--amount", callback=parse_amount, help="Amount to credit, tax included.")
@click.option("--full", is_flag=True, help="Credit all that is left of the invoice (cancels it).")
@click.option("--reason", required=True, help="Why; printed on the credit note.")
@click.option("--date", "day", callback=parse_date, help="Date of the credit note (default: today).")
@click.option("--at", "at", help="UTC time to record as `finalized` (default: now).")
@root_option
def credit(invoice, amount, full, reason, day, at, root: Path):
    """Issue a credit note CN-<INVOICE>-N against a finalized invoice."""
    from .jobs.credit import run_credit

    if (amount is None) == (not full):
        raise click.UsageError("give exactly one of --amount X or --full")
    root = _existing_root(root)
    number, value, currency = _run(run_credit, root, invoice, amount, full, reason, day or local_today(root),
                                   _parse_at(at))
    click.echo(f"Issued credit note {number} for {money(value, currency)} on {invoice}")


@main.command()
@click.argument("month", required=False, callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT")
@click.option("--as-of", "as_of", callback=parse_date, help="Status on this date (default: today).")
@click.option("--json", "as_json", is_flag=True)
@root_option
def status(month, clients, as_of, as_json, root: Path):
    """Each invoice's status (draft, open, partial, paid, overdue, cancelled) with paid, credited and balance."""
    from .jobs.reports import books_for_reports, status_rows
    from .render.text import status_json, status_table

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    books = _run(books_for_reports, root)
    _, rows = status_rows(books, as_of, month, set(clients))
    click.echo(status_json(rows, as_of) if as_json else status_table(rows), nl=False)


@main.command()
@click.option("--as-of", "as_of", callback=parse_date, help="Aging on this date (default: today).")
@click.option("--json", "as_json", is_flag=True)
@root_option
def aging(as_of, as_json, root: Path):
    """Per client: balance current, 1-30, 31-60, 61-90 and 90+ days past due, and credit balances."""
    from .jobs.reports import aging_rows, books_for_reports
    from .render.text import aging_json, aging_table

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    rows = aging_rows(_run(books_for_reports, root), as_of)
    click.echo(aging_json(rows, as_of) if as_json else f"Aging as of {as_of}\n" + aging_table(rows), nl=False)


@main.command()
@click.argument("account")
@click.option("--from", "start", callback=parse_date, help="First day (default: the beginning).")
@click.option("--to", "end", callback=parse_date, help="Last day (default: today).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--pdf", "as_pdf", is_flag=True, help="Render it as PDF into build/statements/.")
@root_option
def statement(account, start, end, as_json, as_pdf, root: Path):
    """A client's statement: opening balance, invoices, payments, credits, running balance, closing balance."""
    from .jobs.reports import books_for_reports
    from .render.text import money, statement_json, statement_lines, table

    root = _existing_root(root)
    end = end or local_today(root)
    if as_pdf:
        from .jobs.show import statement_document

        path, data = _run(statement_document, root, account, start, end)
        write_atomic(path, data)
        click.echo(f"Wrote {path.relative_to(root)}")
        return
    books = _run(books_for_reports, root)
    st = client_statement_safe(books, account, start, end)
    name = books.names.get(account, account)
    currency = next((d.currency for d in books.docs if d.account == account), "")
    if as_json:
        click.echo(statement_json(st, name, currency), nl=False)
        return
    click.echo(f"Statement for {name} ({account}), {st.start or 'beginning'} to {st.end}")
    rows = statement_lines(st, name, currency)
    text = table(("Date", "Reference", "Description", "Charges", "Payments/Credits", "Balance"),
                 [r[:5] + (money(r[5], currency),) for r in rows], right={3, 4, 5})
    for line, row in zip(text.splitlines(), [None, None, *rows]):
        if row is None:
            click.echo(line)
            continue
        balance = row[5]
        colour = "red" if balance > 0 else ("green" if balance < 0 else "blue")
        head, _, tail = line.rpartition(" ")
        click.echo(head + " " + click.style(tail, fg=colour))


@main.group()
def report():
    """Reports from the ledger."""


@report.command()
@click.option("--year", type=int, help="Only this year.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write it as CSV.")
@click.option("--json", "as_json", is_flag=True)
@root_option
def revenue(year, csv_path, as_json, root: Path):
    """Revenue by month, client and category (invoices, adjustments and credit notes)."""
    from .jobs.reports import books_for_reports
    from .jobs.reports import revenue as revenue_rows
    from .render.text import revenue_csv, revenue_json, revenue_table

    root = _existing_root(root)
    rows = revenue_rows(_run(books_for_reports, root), year)
    if csv_path:
        write_atomic(csv_path, revenue_csv(rows))
    click.echo(revenue_json(rows) if as_json else revenue_table(rows), nl=False)


@main.command("import-payments")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", is_flag=True, help="Write the proposed payments (default: only show them).")
@click.option("--currency", help="The statement's currency (default: bank.csv.currency, else the books').")
@root_option
def import_payments(csv_file: Path, apply: bool, currency, root: Path):
    """Match a bank CSV's deposits to invoices and clients; record them with --apply."""
    from .jobs.import_payments import run_import

    root = _existing_root(root)
    result = _run(run_import, root, csv_file, apply, currency)
    for p in result.proposals:
        settles = ", ".join(f"{n} {money(a, result.currency)}" for n, a in p.allocations) or "nothing open"
        extra = f"; credit on account {money(p.unapplied, result.currency)}" if p.unapplied else ""
        click.echo(f"line {p.row.line}: {p.row.date} {money(p.row.amount, result.currency)} from {p.client} ({p.account}) "
                   f"by {p.matched_by}: settles {settles}{extra} [ref {p.row.ref}]")
    for row, why in result.unmatched:
        click.echo(f"line {row.line}: UNMATCHED {row.date} {money(row.amount, result.currency)} '{row.text}': {why}")
    for row, why in result.skipped:
        click.echo(f"line {row.line}: skipped {row.date} {money(row.amount, result.currency)}: {why}")
    if result.written:
        click.echo(f"Recorded {len(result.proposals)} payment(s).")
    elif result.proposals:
        click.echo(f"{len(result.proposals)} payment(s) proposed; nothing written. Run again with --apply to record them.")


@main.command()
@click.argument("account", required=False)
@click.option("--json", "as_json", is_flag=True)
@root_option
def history(account, as_json, root: Path):
    """The git history of a client's YAML (or all clients'): who changed what and when, old -> new."""
    from .jobs.history import run_history

    root = _existing_root(root)
    try:
        changes = run_history(root, account)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems, wrote_nothing=False) from None
    if as_json:
        click.echo(json.dumps([c._asdict() for c in changes], indent=2))
        return
    if not changes:
        click.echo("No committed changes.")
    for change in changes:
        click.echo(f"{change.date}  {change.author}  {change.commit}  {change.subject}")
        click.echo(f"  {change.file}")
        for edit in change.edits:
            click.echo(f"    {edit}")


@main.group()
def fx():
    """Exchange rates for clients invoiced in another currency (ledger/prices.beancount)."""


@fx.command("set")
@click.argument("currency")
@click.argument("rate", callback=parse_amount)
@click.option("--date", "day", callback=parse_date, help="The rate's date (default: today).")
@root_option
def fx_set(currency, rate, day, root: Path):
    """Set CURRENCY's RATE (base currency per unit) on a date, e.g. otb fx set USD 1.3650 --date 2024-10-31."""
    from .jobs.fx import run_fx_set

    root = _existing_root(root)
    day = day or local_today(root)
    path = _run(run_fx_set, root, {(currency.upper(), day): rate})
    click.echo(f"{day} {currency.upper()} = {rate} in {path.relative_to(root)}")


@fx.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@root_option
def fx_import(csv_file: Path, root: Path):
    """Set many rates from a CSV with columns date, currency, rate."""
    from .jobs.fx import read_rates_csv, run_fx_set

    root = _existing_root(root)
    try:
        rates = read_rates_csv(csv_file)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems) from None
    path = _run(run_fx_set, root, rates)
    click.echo(f"Set {len(rates)} rate(s) in {path.relative_to(root)}")


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT")
@root_option
def pdf(month, clients, root: Path):
    """Render MONTH's draft invoices as DRAFT PDFs into build/MONTH/ (finalized ones are in ledger/documents/)."""
    from .fsutil import write_all
    from .jobs.show import month_pdfs

    root = _existing_root(root)
    files, finals = _run(month_pdfs, root, month, clients)
    write_all(files, durable=False)
    for path in sorted(files):
        click.echo(f"Wrote {path.relative_to(root)}")
    for line in finals:
        click.echo(line)


@main.command()
@click.argument("invoice")
@click.option("--html", "as_html", is_flag=True, help="The printer-friendly HTML view (templates/invoice.html.j2).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not the terminal.")
@click.option("--as-of", "as_of", callback=parse_date, help="Paid and credited amounts on this date (default: today).")
@root_option
def show(invoice, as_html, out, as_of, root: Path):
    """Show one invoice: its lines and totals, or its HTML view with --html."""
    from .jobs.show import invoice_and_view, invoice_html

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    if as_html:
        text = _run(invoice_html, root, invoice, as_of)
    else:
        from .render.text import invoice_text

        _, view = _run(invoice_and_view, root, invoice, as_of)
        text = invoice_text(view)
    if out:
        write_atomic(out, text)
        click.echo(f"Wrote {out}")
    else:
        click.echo(text, nl=False)


def _report_outcome(outcome, what: str, dry_run: bool) -> None:
    for number, recipients in outcome.sent:
        click.echo(f"sent {number} to {', '.join(recipients)}")
    for path in outcome.outbox:
        click.echo(f"dry run: wrote {path}")
    for number, reason in outcome.skipped:
        click.echo(f"skipped {number}: {reason}")
    for number, reason in outcome.failed:
        click.echo(f"FAILED {number}: {reason} (nothing recorded)", err=True)
    if outcome.failed:
        raise click.ClickException(f"{len(outcome.failed)} {what} not sent; the others were sent and recorded")


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT")
@click.option("--dry-run", is_flag=True, help="Write the messages to build/outbox/*.eml; send nothing.")
@click.option("--resend", is_flag=True, help="Send again invoices already sent.")
@click.option("--at", "at", help="UTC time to record (default: now).")
@root_option
def email(month, clients, dry_run, resend, at, root: Path):
    """Email MONTH's finalized, unsent invoices with their PDF to each client's billing_email."""
    from .jobs.email import run_email

    root = _existing_root(root)
    outcome = _run(run_email, root, month, clients, dry_run, resend, _parse_at(at))
    _report_outcome(outcome, "invoice(s)", dry_run)


@main.command()
@click.option("--as-of", "as_of", callback=parse_date, help="Which invoices are overdue on this date (default: today).")
@click.option("--dry-run", is_flag=True, help="Write the messages to build/outbox/*.eml; send nothing.")
@click.option("--at", "at", help="UTC time to record (default: now).")
@root_option
def remind(as_of, dry_run, at, root: Path):
    """Email a reminder for each overdue invoice, at most once per email.reminder_interval_days."""
    from .jobs.email import run_remind

    root = _existing_root(root)
    when = _parse_at(at)
    outcome = _run(run_remind, root, as_of or local_today(root), dry_run, when)
    _report_outcome(outcome, "reminder(s)", dry_run)


if __name__ == "__main__":  # pragma: no cover
    main()
