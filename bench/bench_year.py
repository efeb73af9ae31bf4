"""Benchmark late in the year: every month of 2024 billed in turn on N clients (default 1,000), then `otb pay`.

Every change to the ledger is checked by a Beancount load of the whole would-be ledger, so a bill or a payment
costs more as the year fills up. The script builds bench_bill's repo with an export for each month, times
`otb bill 2024-MM --no-pdf` of each new month (one process each; the months are not finalized, which would
render 1,000 PDFs a month), then times `otb pay` of one client on the 12-month ledger, interleaved:

- "after a payment": as a billing admin meets it, one payment after another: the version's own payment just
  before (not timed) left what it keeps between runs (the ledger's records in .otb/cache, which a payment in
  the books' currency takes, and the parse of each ledger file);
- "full load": the same without the kept records (the ledger was edited by hand, or is in another currency);
- with --baseline REV, "after a payment" by that git revision.

    python bench/bench_year.py [N] [--runs 3] [--baseline REV ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bill import baseline_worktree, build, run_once  # noqa: E402

RECORDS = Path(".otb") / "cache" / "records.marshal"


def monthly_exports(root: Path) -> None:
    """Copies of October's exports for every month of 2024, ticket dates moved into the month."""
    october = root / "exports" / "2024-10"
    for month in range(1, 13):
        if month == 10:
            continue
        folder = root / "exports" / f"2024-{month:02d}"
        folder.mkdir()
        for name in ("users.csv", "assets.csv"):
            shutil.copy2(october / name, folder / name)
        (folder / "tickets.csv").write_text((october / "tickets.csv").read_text().replace(
            ",2024-10-", f",2024-{month:02d}-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clients", nargs="?", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV", action="append", default=[],
                        help="also time this git revision's payment, interleaved (may be given more than once)")
    parser.add_argument("--keep", type=Path, help="build the repo in this folder and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="otb-bench-year-"))
    root = base / "repo"
    try:
        build(root, args.clients)
        monthly_exports(root)
        print(f"{args.clients} clients, each month of 2024 billed in turn (wall seconds, max RSS):")
        for month in range(1, 13):
            wall, rss = run_once(root, None, ("bill", f"2024-{month:02d}", "--no-pdf"))
            print(f"  otb bill 2024-{month:02d} --no-pdf  {wall:6.2f} s  {rss:5d} MiB", flush=True)
        times: dict[str, list[float]] = {"after a payment": [], "full load": []}
        with contextlib.ExitStack() as stack:
            baselines = {f"baseline {rev}": stack.enter_context(baseline_worktree(rev)) for rev in args.baseline}
            times.update({label: [] for label in baselines})
            for run in range(args.runs):
                for label in times:
                    code = baselines.get(label)
                    tag = label.split()[-1]
                    if label == "full load":
                        (root / RECORDS).unlink(missing_ok=True)
                    else:  # this version's own state between runs, as after any payment it recorded
                        run_once(root, code, ("pay", "100008", "1.00", "--date", "2024-12-19", "--ref",
                                              f"WARM-{run}-{tag}"))
                    wall, _ = run_once(root, code, ("pay", "100007", "12.34", "--date", "2024-12-20",
                                                    "--ref", f"BENCH-{run}-{tag}"))
                    times[label].append(wall)
        print(f"otb pay on that ledger, median of {args.runs} interleaved runs:")
        for label, walls in times.items():
            print(f"  {label:<24} {statistics.median(walls):6.2f} s  (min {min(walls):.2f}, max {max(walls):.2f})")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
