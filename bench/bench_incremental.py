"""Benchmark a month billed again: `otb bill 2024-10` with DRAFT PDFs on N clients (default 1,000), first
(every PDF rendered), then after one client's file changed (one PDF rendered, the rest kept by their content
key), then with nothing changed. Each is a separate process, timed wall-clock, median of R runs.

    python bench/bench_incremental.py [N] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bill import build  # noqa: E402


def bill(otb: str, root: Path, *options: str) -> float:
    start = time.perf_counter()
    subprocess.run([otb, "bill", "2024-10", "--root", str(root), *options], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clients", nargs="?", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    otb = shutil.which("otb", path=str(Path(sys.executable).parent)) or "otb"
    base = Path(tempfile.mkdtemp(prefix="otb-bench-incremental-"))
    root = base / "repo"
    try:
        build(root, args.clients)
        client = root / "clients" / "100007.yaml"
        original = client.read_text()
        first, one, none, no_pdf_first, no_pdf_again = [], [], [], [], []
        for run in range(args.runs):
            shutil.rmtree(root / "ledger", ignore_errors=True)
            shutil.rmtree(root / "build", ignore_errors=True)
            no_pdf_first.append(bill(otb, root, "--no-pdf"))
            no_pdf_again.append(bill(otb, root, "--no-pdf"))
            shutil.rmtree(root / "ledger", ignore_errors=True)
            shutil.rmtree(root / "build", ignore_errors=True)
            client.write_text(original)
            first.append(bill(otb, root))
            client.write_text(original + f"  - {{name: Bench change, monthly: {run + 1}0.00}}\n")
            one.append(bill(otb, root))
            none.append(bill(otb, root))
        client.write_text(original)
        print(f"{args.clients} clients, median of {args.runs} (wall seconds, one process each):")
        for label, times in (("bill --no-pdf, new month", no_pdf_first), ("bill --no-pdf, again", no_pdf_again),
                             ("bill with PDFs, new month", first), ("bill with PDFs after one client edit", one),
                             ("bill with PDFs, nothing changed", none)):
            print(f"  {label:<40} {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f})")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
