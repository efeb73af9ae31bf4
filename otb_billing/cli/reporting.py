"""Reports from the ledger: status, aging, statement, report revenue, history."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.errors import InputErrors
from ..fsutil import write_atomic
from ..gcpause import keep_to_exit, paused
from . import (
    ProblemsFound,
    _existing_root,
    _run,
    client_statement_safe,
    local_today,
    main,
    parse_date,
    parse_month,
    root_option,
)


def _notice(text: str) -> None:
    click.echo(text + "...", err=True)


@main.command()
@click.argument("month", required=False, callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT")
@click.option("--as-of", "as_of", callback=parse_date, help="Status on this date (default: today).")
@click.option("--json", "as_json", is_flag=True)
@root_option
def status(month, clients, as_of, as_json, root: Path):
    """Each invoice's status (draft, open, partial, paid, overdue, cancelled) with paid, credited and balance."""
    from ..jobs.reports import receivables, status_rows
    from ..render.text import status_json, status_table

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    with paused(freeze=True):  # hundreds of thousands of records and rows, no cycles among them (gcpause.py)
        book, _ = _run(receivables, root, as_of, _notice)
        rows = status_rows(book, month, set(clients))
        text = status_json(rows, as_of) if as_json else status_table(rows)
        keep_to_exit(book, rows)  # never freed one object at a time
    click.echo(text, nl=False)


@main.command()
@click.option("--as-of", "as_of", callback=parse_date, help="Aging on this date (default: today).")
@click.option("--json", "as_json", is_flag=True)
@root_option
def aging(as_of, as_json, root: Path):
    """Per client: balance current, 1-30, 31-60, 61-90 and 90+ days past due, and credit balances."""
    from ..core.receivables import aging as aging_rows
    from ..jobs.reports import receivables
    from ..render.text import aging_json, aging_table

    root = _existing_root(root)
    as_of = as_of or local_today(root)
    with paused(freeze=True):  # as for status
        book, names = _run(receivables, root, as_of, _notice)
        rows = aging_rows(book, names)
        keep_to_exit(book, rows)
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
    from ..jobs.reports import books_for_reports
    from ..render.text import money, statement_json, statement_lines, table

    root = _existing_root(root)
    end = end or local_today(root)
    if as_pdf:
        from ..jobs.show import statement_document

        path, data = _run(statement_document, root, account, start, end)
        write_atomic(path, data)
        click.echo(f"Wrote {path.relative_to(root)}")
        return
    books = _run(books_for_reports, root, True, _notice)
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
    for line, row in zip(text.splitlines(), [None, None, *rows], strict=False):
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
    from ..jobs.reports import books_for_reports
    from ..jobs.reports import revenue as revenue_rows
    from ..render.text import revenue_csv, revenue_json, revenue_table

    root = _existing_root(root)
    rows = revenue_rows(_run(books_for_reports, root), year)
    if csv_path:
        write_atomic(csv_path, revenue_csv(rows))
    click.echo(revenue_json(rows) if as_json else revenue_table(rows), nl=False)


@main.command()
@click.argument("account", required=False)
@click.option("--json", "as_json", is_flag=True)
@root_option
def history(account, as_json, root: Path):
    """The git history of a client's YAML (or all clients'): who changed what and when, old -> new."""
    from ..jobs.history import run_history

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
