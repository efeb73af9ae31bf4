"""The `otb` command: parse arguments, call a job, print. No billing logic lives here."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from .core.errors import InputErrors
from .core.month import Month
from .fsutil import Busy, repo_lock

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otb-billing")
def main():
    """OTB Billing: plain-text billing for managed service providers."""


@main.command()
@click.argument("month", callback=parse_month)
@click.option("--client", "clients", multiple=True, metavar="ACCOUNT", help="Bill only this account (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@click.option("--dry-run", is_flag=True, help="Compute and print; write nothing.")
@root_option
def bill(month: Month, clients, as_json: bool, dry_run: bool, root: Path):
    """Bill MONTH (YYYY-MM): draft invoices in the ledger and QuickBooks CSVs in build/."""
    from .jobs.bill import run_bill
    from .render.report import result_json, result_table

    root = _existing_root(root)
    gc.disable()  # a short run that allocates millions of acyclic objects: collection only costs time
    try:
        with repo_lock(root):
            count = _count_clients(root)
            if count > PROGRESS_ABOVE and not as_json:
                with click.progressbar(length=count, label=f"Billing {month}", file=sys.stderr) as bar:
                    outcome = run_bill(root, month, clients, dry_run, progress=lambda: bar.update(1))
            else:
                outcome = run_bill(root, month, clients, dry_run)
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


def _existing_root(root: Path) -> Path:
    if not root.is_dir():
        raise click.ClickException(f"--root {root}: no such folder")
    return root


def _count_clients(root: Path) -> int:
    folder = root / "clients"
    return sum(1 for _ in folder.glob("*.yaml")) if folder.is_dir() else 0


if __name__ == "__main__":  # pragma: no cover
    main()
