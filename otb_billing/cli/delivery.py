"""Sending documents: email and remind."""

from __future__ import annotations

from pathlib import Path

import click

from . import (
    _existing_root,
    _parse_at,
    _run,
    local_today,
    main,
    parse_date,
    parse_month,
    root_option,
)


def _report_outcome(outcome, what: str, dry_run: bool) -> None:
    for number in outcome.recovered:
        click.echo(f"recorded {number}: sent by the run that was stopped before it could record it")
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
    from ..jobs.email import run_email

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
    from ..jobs.email import run_remind

    root = _existing_root(root)
    when = _parse_at(at)
    outcome = _run(run_remind, root, as_of or local_today(root), dry_run, when)
    _report_outcome(outcome, "reminder(s)", dry_run)
