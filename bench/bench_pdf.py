"""Benchmark PDF invoices: `otb pdf 2024-10` on a synthetic repo of N clients (default 1,000), both cores.

The repo is the one bench_bill.py builds (about 25 users, 30 devices and 20 time rows per client), billed once
without PDFs; then `otb pdf` re-bills the month and renders every invoice (with its itemized appendix) into
build/2024-10/. Prints the median wall time of R runs, the peak memory, and pages rendered.

    python bench/bench_pdf.py [N] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_bill import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    otb = str(Path(sys.executable).parent / "otb")
    base = Path(tempfile.mkdtemp(prefix="otb-bench-pdf-"))
    try:
        root = base / "repo"
        build(root, args.n)
        subprocess.run([otb, "bill", "2024-10", "--no-pdf", "--root", str(root)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls, peaks = [], []
        for _ in range(args.runs):
            shutil.rmtree(root / "build" / "2024-10", ignore_errors=True)
            start = time.perf_counter()
            proc = subprocess.Popen([otb, "pdf", "2024-10", "--root", str(root)], stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - start)
            peaks.append(usage.ru_maxrss // 1024)
            if status:
                raise SystemExit("otb pdf failed")
        pdfs = sorted((root / "build" / "2024-10").glob("*.pdf"))
        size = sum(p.stat().st_size for p in pdfs)
        print(
            f"{len(pdfs)} PDFs ({size / 1e6:.1f} MB) on {os.cpu_count()} cores: "
            f"median {statistics.median(walls):.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}), {statistics.median(walls) / len(pdfs) * 1000:.1f} ms "
            f"per invoice, peak RSS of the main process {max(peaks)} MiB"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
