"""Benchmark `otb bill` on synthetic billing repos of N clients.

Each client has about 25 users, 30 devices and 20 time rows, a few overrides and line items. For each N the
script builds the repo once (not timed), then runs `otb bill 2024-10` as a separate process R times and prints
the median wall time and the peak memory (max RSS) of the billing process. PDFs are left out (`--no-pdf`):
bench/bench_pdf.py measures those.

    python bench/bench_bill.py 100 1000 10000 [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = """\
business: {name: Bench MSP, province: ON, country: CA}
currency: CAD
timezone: America/Toronto
tax: {registrations: {GST/HST: "123456789RT0001", QST: "Q1"}, local_country: CA}
asset_types: {laptop: workstation, desktop: workstation}
"""
PLAN = """\
name: Gold MSP Plan
support_level: hourly
terms:
  "1 Year": {per_user: 15.00, per_workstation: 75.00, per_server: 125.00, per_vm: 50.00, per_switch: 100.00,
             per_firewall: 150.00, per_hour: 150.00, backup_base_workstation: 5.00, backup_base_server: 10.00,
             backup_included_tb: 1.0, backup_per_tb: 25.00}
"""
SERVICES = "- {code: CONSULT, name: Consulting, rate: 125.00, unit: hour}\n"
PROVINCES = ["ON", "QC", "BC", "AB", "NS", "MB"]
TYPES = ["workstation", "workstation", "laptop", "desktop", "server", "vm", "switch", "firewall"]


def build(root: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (root / "plans").mkdir(parents=True)
    (root / "clients").mkdir()
    exports = root / "exports" / "2024-10"
    exports.mkdir(parents=True)
    (root / "settings.yaml").write_text(SETTINGS)
    (root / "services.yaml").write_text(SERVICES)
    (root / "plans" / "gold.yaml").write_text(PLAN)
    users = ["account,user_id,name,email,active"]
    assets = ["account,asset_id,hostname,type,backup_tb"]
    tickets = ["account,ticket,subject,date,hours,billable"]
    for c in range(n):
        account = f"{100000 + c}"
        (root / "clients" / f"{account}.yaml").write_text(
            f'account: "{account}"\nname: Client {c}\nprovince: {rng.choice(PROVINCES)}\nplan: Gold MSP Plan\n'
            f'term: "1 Year"\nprepaid_hours: {{monthly: 2}}\n'
            f'users: {{"{account}-u1": free}}\nassets: {{"{account}-a1": no_charge}}\n'
            f"line_items:\n  - {{name: Cloud Hosting, monthly: 250.00}}\n"
            f"  - {{service: CONSULT, quantity: 1.5, month: 2024-10}}\n"
        )
        for u in range(rng.randint(20, 30)):
            users.append(f"{account},{account}-u{u},User {u},u{u}@c{c}.example,{'true' if u % 13 else 'false'}")
        for a in range(rng.randint(25, 35)):
            tb = f"{rng.randint(0, 400) / 1000:.3f}" if a % 3 else ""
            assets.append(f"{account},{account}-a{a},C{c}-DEV-{a:03d},{rng.choice(TYPES)},{tb}")
        for t in range(20):
            tickets.append(f"{account},{account}-T{t // 2},Ticket {t // 2},2024-10-{1 + t:02d}T10:00:00-04:00,"
                           f"{rng.choice(['0.25', '0.5', '1.0', '1.5'])},{'false' if t == 7 else 'true'}")
    (exports / "users.csv").write_text("\n".join(users) + "\n")
    (exports / "assets.csv").write_text("\n".join(assets) + "\n")
    (exports / "tickets.csv").write_text("\n".join(tickets) + "\n")


def run_once(root: Path) -> tuple[float, int]:
    """(wall seconds, max RSS in MiB) of one `otb bill` process."""
    otb = shutil.which("otb", path=str(Path(sys.executable).parent)) or "otb"
    start = time.perf_counter()
    proc = subprocess.Popen([otb, "bill", "2024-10", "--no-pdf", "--root", str(root)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"otb bill failed: {proc.stderr.read().decode()[:2000]}")
    return wall, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the repos under this folder and keep them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="otb-bench-"))
    print(f"{'clients':>8} {'rows':>9} {'median s':>9} {'min s':>7} {'max s':>7} {'µs/row':>7} {'max RSS MiB':>12}")
    try:
        for n in args.sizes:
            root = base / f"n{n}"
            if root.exists():
                shutil.rmtree(root)
            build(root, n)
            rows = sum(sum(1 for _ in open(p)) - 1 for p in (root / "exports/2024-10").glob("*.csv"))
            results = []
            for _ in range(args.runs):
                shutil.rmtree(root / "ledger", ignore_errors=True)
                shutil.rmtree(root / "build", ignore_errors=True)
                results.append(run_once(root))
            walls = [w for w, _ in results]
            median = statistics.median(walls)
            print(f"{n:>8} {rows:>9} {median:>9.2f} {min(walls):>7.2f} {max(walls):>7.2f} "
                  f"{median / rows * 1e6:>7.1f} {max(r for _, r in results):>12}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
