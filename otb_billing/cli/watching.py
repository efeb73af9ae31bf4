"""`otb watch`: the live terminal view of the month being billed as its input files are saved."""

from __future__ import annotations

import datetime as dt
import gc
import re
import signal
from pathlib import Path

import click

from ..core.month import Month
from ..render.moneyfmt import money
from . import (
    _existing_root,
    local_today,
    locked,
    main,
    parse_month,
    root_option,
)

SHOWN = 20  # changes listed per refresh; a settings change can move every client


@main.command()
@click.argument("month", required=False, callback=parse_month)
@click.option("--pdf/--no-pdf", default=False, show_default=True,
              help="Also refresh the changed clients' DRAFT PDFs in build/MONTH/.")
@click.option("--poll", is_flag=True, help="Poll the files instead of inotify (network drives, some containers).")
@click.option("--debounce", type=click.FloatRange(0.02, 10), default=0.1, show_default=True, metavar="SECONDS",
              help="Wait this long after the last save of a burst before billing.")
@root_option
def watch(month: Month | None, pdf: bool, poll: bool, debounce: float, root: Path):
    """Bill MONTH again each time a client, plan, export or settings file is saved (Ctrl-C stops).

    Only the clients a save affects are billed again; their drafts are rewritten in the ledger (finalized
    invoices never are) and build/MONTH/ follows. MONTH defaults to the newest exports/YYYY-MM/ folder.
    """
    from ..jobs.watch import WatchSession
    from ..jobs.watch_events import Collector, start_observer

    root = _existing_root(root)
    month = month or _default_month(root)
    stopping: list[int] = []
    shown: set[str] = set()  # warnings already on screen: said once, not after every save

    def stop(signum, frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with locked(root, f"otb watch {month}"):
            session = WatchSession(root, month, pdf)
            collector = Collector(root, month)
            observer = start_observer(root, collector, poll)
            try:
                _say(f"Watching {root} for {month}: settings.yaml, services.yaml, clients/, plans/, "
                     f"exports/{month}/, templates/ ({'polling' if poll else 'inotify'}). Ctrl-C stops.")
                _show(session.start(), "start: every client billed", shown)
                gc.collect()
                gc.freeze()  # a ledger bean-check rejects stops here
                while not stopping:
                    paths = collector.burst(debounce, lambda: bool(stopping))
                    if paths and not stopping:
                        _show(session.refresh(sorted(paths)), ", ".join(sorted(paths)), shown)
                    elif not paths:
                        session.settle()
                    gc.collect()
                    gc.freeze()  # what the session keeps is long-lived: never scan it again in a refresh
                session.settle()
            finally:
                observer.stop()
                observer.join(timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _say(f"Stopped. Review the drafts with `git diff ledger/`, then `otb finalize {month}`.")


def _default_month(root: Path) -> Month:
    """The newest exports/YYYY-MM/ folder, or else last month."""
    folder = root / "exports"
    months = sorted(p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}", p.name)) \
        if folder.is_dir() else []
    for name in reversed(months):
        try:
            return Month.parse(name)
        except ValueError:
            continue
    today = local_today(root)
    return Month.of(today.replace(day=1) - dt.timedelta(days=1))


def _say(text: str, err: bool = False) -> None:
    click.echo(text, err=err)


def _show(refresh, what: str, shown: set[str]) -> None:
    """One refresh: what was saved, each client's old -> new total, problems, and a one-line summary."""
    now = dt.datetime.now().strftime("%H:%M:%S")
    _say(f"[{now}] {what}")
    if refresh.problems:
        for problem in refresh.problems:
            _say(f"  {problem}", err=False)
        _say(f"  {len(refresh.problems)} problem(s): nothing written; the last good drafts stay in the ledger "
             f"({refresh.seconds * 1000:.0f} ms)")
        return
    for change in refresh.changes[:SHOWN]:
        _say(f"  {_change_line(change)}")
    if len(refresh.changes) > SHOWN:
        _say(f"  ... and {len(refresh.changes) - SHOWN} more")
    for warning in [w for w in refresh.warnings if str(w) not in shown][:SHOWN]:
        _say(f"  warning: {warning}")
    shown.clear()
    shown.update(str(w) for w in refresh.warnings)
    drafts = len(refresh.changes)
    _say(f"  {refresh.billed} client(s) billed, {drafts} draft(s) changed, {refresh.written} file(s) written "
         f"in {refresh.seconds * 1000:.0f} ms")


def _change_line(change) -> str:
    who = f"{change.client} ({change.account}, {change.number})"
    cur = change.currency
    if change.old is None:
        return f"{who}: new draft {money(change.new, cur)}"
    if change.new is None:
        return f"{who}: draft of {money(change.old, cur)} removed"
    diff = change.new - change.old
    sign = "+" if diff >= 0 else "-"
    return f"{who}: {money(change.old, cur)} -> {money(change.new, cur)} ({sign}{money(abs(diff), cur)})"
