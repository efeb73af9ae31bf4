"""Benchmark PDF invoices: `otb pdf 2024-10` on a synthetic repo of N clients (default 1,000), both cores.

The repo is the one bench_bill.py builds (about 25 users, 30 devices and 20 time rows per client), billed once
without PDFs; then `otb pdf` re-bills the month and renders every invoice (with its itemized appendix) into
build/2024-10/. Prints the median wall time of R runs, the peak memory, and pages rendered.

    python bench/bench_pdf.py [N] [--runs 3] [--baseline REV]

With --baseline, each run is followed by a run of git revision REV (a temporary worktree) on the same repo, and
the ratio of the medians is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_bill import baseline_worktree, build, run_once  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision, interleaved, for ratios")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="otb-bench-pdf-"))
    try:
        with baseline_worktree(args.baseline) as old:
            versions = {"this": None} if old is None else {"this": None, args.baseline[:9]: old}
            root = base / "repo"
            build(root, args.n)
            run_once(root, None)  # bill without PDFs first: `otb pdf` then only draws
            walls: dict[str, list[float]] = {name: [] for name in versions}
            peaks: dict[str, list[int]] = {name: [] for name in versions}
            sizes: dict[str, int] = {}
            for _ in range(args.runs):
                for name, code in versions.items():
                    shutil.rmtree(root / "build" / "2024-10", ignore_errors=True)
                    wall, peak = run_once(root, code, ("pdf", "2024-10"))
                    walls[name].append(wall)
                    peaks[name].append(peak)
                    pdfs = sorted((root / "build" / "2024-10").glob("*.pdf"))
                    sizes[name] = sum(p.stat().st_size for p in pdfs)
            for name in versions:
                median = statistics.median(walls[name])
                print(f"{name:>9}: {len(pdfs)} PDFs ({sizes[name] / 1e6:.1f} MB) on {os.cpu_count()} cores: median "
                      f"{median:.2f} s (min {min(walls[name]):.2f}, max {max(walls[name]):.2f}), "
                      f"{median / len(pdfs) * 1000:.1f} ms per invoice, peak RSS of the main process "
                      f"{max(peaks[name])} MiB", flush=True)
            if old is not None:
                ratio = statistics.median(walls["this"]) / statistics.median(walls[args.baseline[:9]])
                print(f"    ratio: {ratio:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
