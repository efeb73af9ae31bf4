"""Commands that change the books after billing: finalize, pay, credit, import-payments, fx."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import InputErrors
from ..core.month import Month
from ..render.moneyfmt import money
from . import (
    PdfProgress,
    ProblemsFound,
    _existing_root,
    _parse_at,
    _run,
    local_today,
    main,
    one_line,
    parse_amount,
    parse_date,
    parse_month,
    root_option,
)


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT", help="Finalize only this account's invoice.")
@click.option("--at", "at", help="UTC time to record as `finalized` (default: now), e.g. 2024-11-01T09:00:00Z.")
@root_option
def finalize(month: Month, clients, at: str | None, root: Path):
    """Issue MONTH's draft invoices: flag *, `finalized` and `digest`; never rewritten after this."""
    from ..jobs.finalize import run_finalize

    root = _existing_root(root)
    when = _parse_at(at)
    bar = PdfProgress("Issued PDFs")
    try:
        result = _run(run_finalize, root, month, clients, when, bar)
    finally:
        bar.close()
    if not result.done and not result.failed:
        click.echo(f"No drafts to finalize in {month}.")
        return
    if result.done:
        click.echo(f"Finalized {len(result.done)} invoice(s): {', '.join(result.done)}")
    if result.failed:
        for number, problems in result.failed:
            click.echo(f"Not finalized: {number}", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{len(result.failed)} invoice(s) could not be finalized (see above); "
                                   f"{len(result.done)} were.")


@main.command(context_settings={"ignore_unknown_options": True})  # so `otb pay 620547 -5` says what is wrong with -5
@click.argument("account", required=False)
@click.argument("amount", required=False, callback=parse_amount)
@click.option("--date", "day", callback=parse_date, help="Date received (default: today).")
@click.option("--ref", callback=one_line,
              help="Your reference (cheque number, bank reference); default PAY-<account>-<date>.")
@click.option("--method", type=click.Choice(["cheque", "eft", "card", "cash", "crypto", "interac", "wire"]),
              default="eft",
              show_default=True)
@click.option("--invoice", "invoices", multiple=True, metavar="N", help="Settle this invoice (repeatable).")
@click.option("--reverse", metavar="REF", help="Reverse payment REF (bounced cheque, charge-back).")
@click.option("--note", default="", callback=one_line, help="A note kept with the entry.")
@click.option("--rate", callback=parse_amount, help="For a client in another currency: the day's rate "
              "(default: ledger/prices.beancount).")
@root_option
def pay(account, amount, day, ref, method, invoices, reverse, note, rate, root: Path):
    """Record a payment of AMOUNT from client ACCOUNT, or reverse one with --reverse REF."""
    from ..jobs.payments import run_pay, run_reverse

    root = _existing_root(root)
    day = day or local_today(root)
    if reverse:
        if account or amount is not None:
            raise click.UsageError("--reverse REF takes no ACCOUNT or AMOUNT")
        result = _run(run_reverse, root, reverse, day, note)
        if result.already:
            click.echo(f"Payment {reverse} is already reversed by {result.ref}: nothing was written.")
            return
        click.echo(f"Reversed payment {reverse} as {result.ref}; reopened: "
                   f"{', '.join(n for n, _ in result.allocations) or 'credit on account'}")
        return
    if not account or amount is None:
        raise click.UsageError("give ACCOUNT and AMOUNT, e.g. otb pay 620547 4830.75")
    result = _run(run_pay, root, account, amount, day, ref, method, invoices, note, rate)
    if result.already:
        click.echo(f"Payment {result.ref} ({money(amount, result.currency)} from {account} on {day}) is already "
                   "recorded: nothing was written. To record a second payment of the same amount that day, give it "
                   "its own --ref.")
        return
    for number, part in result.allocations:
        click.echo(f"  {number}: {money(part, result.currency)}")
    if result.unapplied:
        click.echo(f"  credit on account: {money(result.unapplied, result.currency)} (applied to the next invoices)")
    click.echo(f"Recorded payment {result.ref} in {result.path.relative_to(root)}")


@main.command()
@click.argument("invoice")
@click.option("--amount", callback=parse_amount, help="Amount to credit, tax included.")
@click.option("--full", is_flag=True, help="Credit all that is left of the invoice (cancels it).")
@click.option("--reason", required=True, callback=one_line, help="Why; printed on the credit note.")
@click.option("--date", "day", callback=parse_date, help="Date of the credit note (default: today).")
@click.option("--at", "at", help="UTC time to record as `finalized` (default: now).")
@root_option
def credit(invoice, amount, full, reason, day, at, root: Path):
    """Issue a credit note CN-<INVOICE>-N against a finalized invoice."""
    from ..jobs.credit import run_credit

    if (amount is None) == (not full):
        raise click.UsageError("give exactly one of --amount X or --full")
    root = _existing_root(root)
    result = _run(run_credit, root, invoice, amount, full, reason, day or local_today(root), _parse_at(at))
    if result.already:
        click.echo(f"Credit note {result.number} ({money(result.amount, result.currency)}, same date and reason) "
                   f"is already issued on {invoice}: nothing was written.")
        return
    click.echo(f"Issued credit note {result.number} for {money(result.amount, result.currency)} on {invoice}")


@main.command("import-payments")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", is_flag=True, help="Write the proposed payments (default: only show them).")
@click.option("--currency", help="The statement's currency (default: bank.csv.currency, else the books').")
@root_option
def import_payments(csv_file: Path, apply: bool, currency, root: Path):
    """Match a bank CSV's deposits to invoices and clients; record them with --apply."""
    from ..jobs.import_payments import run_import

    root = _existing_root(root)
    result = _run(run_import, root, csv_file, apply, currency)
    for p in result.proposals:
        settles = ", ".join(f"{n} {money(a, result.currency)}" for n, a in p.allocations) or "nothing open"
        extra = f"; credit on account {money(p.unapplied, result.currency)}" if p.unapplied else ""
        click.echo(
            f"line {p.row.line}: {p.row.date} {money(p.row.amount, result.currency)} from {p.client} ({p.account}) "
            f"by {p.matched_by}: settles {settles}{extra} [ref {p.row.ref}]"
        )
    for row, why in result.unmatched:
        click.echo(f"line {row.line}: UNMATCHED {row.date} {money(row.amount, result.currency)} '{row.text}': {why}")
    for row, why in result.skipped:
        click.echo(f"line {row.line}: skipped {row.date} {money(row.amount, result.currency)}: {why}")
    if result.written:
        click.echo(f"Recorded {len(result.proposals)} payment(s).")
    elif result.proposals:
        click.echo(
            f"{len(result.proposals)} payment(s) proposed; nothing written. Run again with --apply to record them."
        )


@main.group()
def fx():
    """Exchange rates for clients invoiced in another currency (ledger/prices.beancount)."""


@fx.command("set", context_settings={"ignore_unknown_options": True})  # `fx set USD -1.3`: say what is wrong
@click.argument("currency")
@click.argument("rate", callback=parse_amount)
@click.option("--date", "day", callback=parse_date, help="The rate's date (default: today).")
@root_option
def fx_set(currency, rate, day, root: Path):
    """Set CURRENCY's RATE (base currency per unit) on a date, e.g. otb fx set USD 1.3650 --date 2024-10-31."""
    from ..jobs.fx import run_fx_set

    root = _existing_root(root)
    day = day or local_today(root)
    path = _run(run_fx_set, root, {(currency.upper(), day): rate})
    click.echo(f"{day} {currency.upper()} = {rate} in {path.relative_to(root)}")


@fx.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@root_option
def fx_import(csv_file: Path, root: Path):
    """Set many rates from a CSV with columns date, currency, rate."""
    from ..jobs.fx import read_rates_csv, run_fx_set

    root = _existing_root(root)
    try:
        rates = read_rates_csv(csv_file)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems) from None
    path = _run(run_fx_set, root, rates)
    click.echo(f"Set {len(rates)} rate(s) in {path.relative_to(root)}")
