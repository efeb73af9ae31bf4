"""Benchmark `otb watch`: how long after a client file is saved the ledger shows the new draft.

Builds the synthetic repo of bench/bench_bill.py (N clients, default 1,000), starts `otb watch 2024-10` as a
separate process (inotify, the default debounce), and R times rewrites one random client's file with a new
monthly line item, then polls the month's ledger file until it has been replaced. Prints the median and worst
save-to-ledger latency (debounce included), and the refresh time `otb watch` itself reports.

    python bench/bench_watch.py [N] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bill import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clients", nargs="?", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="otb-bench-watch-"))
    root = base / "repo"
    try:
        build(root, args.clients)
        ledger = root / "ledger" / "invoices" / "2024" / "2024-10.beancount"
        otb = shutil.which("otb", path=str(Path(sys.executable).parent)) or "otb"
        began = time.perf_counter()
        proc = subprocess.Popen([otb, "watch", "2024-10", "--root", str(root)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        started = threading.Event()

        def read() -> None:
            for line in proc.stdout:
                lines.append(line)
                if "client(s) billed" in line:
                    started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(600):
            raise SystemExit("otb watch did not start:\n" + "".join(lines))
        print(f"{args.clients} clients: watch started (full bill) in {time.perf_counter() - began:.2f} s")
        rng = random.Random(3)
        latencies = []
        for run in range(args.runs):
            time.sleep(0.3)
            account = f"{100000 + rng.randrange(args.clients)}"
            path = root / "clients" / f"{account}.yaml"
            amount = f"{1000 + run}.{run % 100:02d}"
            text = re.sub(r"  - \{name: Bench item, monthly: [0-9.]+\}\n", "", path.read_text())
            start = time.perf_counter()
            path.write_text(text + f"  - {{name: Bench item, monthly: {amount}}}\n")
            inode = ledger.stat().st_ino  # the ledger file is replaced (os.replace), never written in place
            while ledger.stat().st_ino == inode:
                if time.perf_counter() - start > 30:
                    raise SystemExit("the ledger did not change within 30 s:\n" + "".join(lines[-20:]))
                time.sleep(0.002)
            latencies.append(time.perf_counter() - start)
        proc.send_signal(2)
        proc.wait(timeout=30)
        reported = [int(m.group(1)) for line in lines[1:] if (m := re.search(r"written in (\d+) ms", line))][1:]
        ms = sorted(x * 1000 for x in latencies)
        print(f"save -> ledger, {args.runs} edits: median {statistics.median(ms):.0f} ms, "
              f"worst {ms[-1]:.0f} ms (debounce included)")
        if reported:
            print(f"refresh as otb watch reports it: median {statistics.median(reported):.0f} ms, "
                  f"worst {max(reported)} ms")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
