"""The `otb` command: parse arguments, call a job, print. No billing logic lives here.

The commands live in one module per part of the work (billing, bookkeeping, reporting, delivery); this module holds
the group and what they share."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import zoneinfo
from pathlib import Path
from typing import Any

import click

from ..core.errors import InputErrors
from ..core.money import number_problem, parse_decimal
from ..core.month import Month, check_date
from ..journal import Busy, repo_lock
from ..readers.fields import control_character
from ..readers.settings import read_settings

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
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write it as YYYY-MM-DD") from None
    if why := check_date(day):
        raise click.BadParameter(why)
    return day


def parse_amount(ctx, param, value):
    """An amount as typed: digits with a dot for decimals, commas only between groups of three (1,234.56)."""
    if value is None:
        return None
    try:
        number = parse_decimal(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}: write amounts like 1234.56 or 1,234.56") from None
    if why := number_problem(number):
        raise click.BadParameter(why)
    return number


def one_line(ctx, param, value):
    """A text option that goes into the ledger (a reference, a reason, a note): one line, no control characters."""
    if value is not None and control_character(value):
        raise click.BadParameter("has a line break or a control character; write it on one line")
    return value


def local_today(root: Path) -> dt.date:
    """Today in the billing repo's time zone: the default of every --date and --as-of."""
    problems: list = []
    settings = read_settings(root, problems)
    zone = zoneinfo.ZoneInfo(settings.timezone if settings else "UTC")
    return dt.datetime.now(zone).date()


@contextlib.contextmanager
def locked(root: Path, holder: str | None = None):
    """The repo lock, with whatever a killed run left completed or undone first (said on stderr). `holder`
    (default: the command, e.g. `otb bill`) is who a second run is told holds it."""
    context = click.get_current_context(silent=True)
    holder = holder or (context.command_path if context is not None else "otb")
    try:
        with repo_lock(root, holder) as recovered:
            if recovered:
                click.echo(recovered, err=True)
            yield
    except InputErrors as exc:
        raise ProblemsFound(exc.problems) from None
    except Busy as exc:
        raise click.ClickException(str(exc)) from None


def _run(job, *args, **kwargs):
    """Call a job under the repo lock, turning input problems into one clear message."""
    with locked(args[0]):
        return job(*args, **kwargs)


def _parse_at(at: str | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"'{at}' is not a date and time", param_hint="--at") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class PdfProgress:
    """For jobs that render PDFs: called once with how many there are, then once per PDF; shows a bar on stderr
    when there are more than a handful, and `close()` ends it."""

    def __init__(self, label: str, above: int = 20) -> None:
        self.label, self.above = label, above
        self.bar: Any = None  # a click progress bar once there are enough PDFs to show one

    def __call__(self, total: int | None = None) -> None:
        if total is not None:
            if total > self.above:
                self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
                self.bar.__enter__()
        elif self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _existing_root(root: Path) -> Path:
    if not root.is_dir():
        raise click.ClickException(f"--root {root}: no such folder")
    return root


def _count_clients(root: Path) -> int:
    folder = root / "clients"
    return sum(1 for _ in folder.glob("*.yaml")) if folder.is_dir() else 0


def client_statement_safe(books, account, start, end):
    from ..jobs.reports import client_statement

    try:
        return client_statement(books, account, start, end)
    except InputErrors as exc:
        raise ProblemsFound(exc.problems, wrote_nothing=False) from None

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otb-billing")
def main():
    """OTB Billing: plain-text billing for managed service providers."""


from . import billing, bookkeeping, delivery, reporting, watching  # noqa: E402,F401  (importing them registers the commands)

