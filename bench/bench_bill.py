"""Benchmark `otb bill` on synthetic billing repos of N clients.

Each client has about 25 users, 30 devices and 20 time rows, a few overrides and line items. For each N the
script builds the repo once (not timed), then R times: bills 2024-10 anew (`first`: no ledger, no `.otb/`),
bills it again with nothing changed (`again`), and bills 2024-11 (`next`: its exports new, the client files kept
from the bills before: a billing admin's monthly routine), each `otb bill` a separate process; it prints the
median wall times and the peak memory (max RSS) of the billing process and its helpers, for `first` and `again`
and for `next`. PDFs are left out (`--no-pdf`):
bench/bench_pdf.py measures those.

    python bench/bench_bill.py 100 1000 10000 [--runs 3] [--keep DIR] [--baseline REV]

With --baseline, each run of this version is paired with a run of the git revision REV (checked out in a
temporary worktree) on the same repo, the baseline first every other time, and the ratio of the medians is
printed: figures from the same minutes of the same machine, which is what a noisy shared machine allows
comparing.
"""

from __future__ import annotations

import argparse
import contextlib
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
MONTHS = {"2024-10": "-04:00", "2024-11": "-05:00"}  # exports of each, with the UTC offset of its time rows
PROVINCES = ["ON", "QC", "BC", "AB", "NS", "MB"]
TYPES = ["workstation", "workstation", "laptop", "desktop", "server", "vm", "switch", "firewall"]


def build(root: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    later = random.Random(seed + 1)  # the later month's hours: October's repo stays what it always was
    (root / "plans").mkdir(parents=True)
    (root / "clients").mkdir()
    (root / "settings.yaml").write_text(SETTINGS)
    (root / "services.yaml").write_text(SERVICES)
    (root / "plans" / "gold.yaml").write_text(PLAN)
    users = ["account,user_id,name,email,active"]
    assets = ["account,asset_id,hostname,type,backup_tb"]
    tickets = {month: ["account,ticket,subject,date,hours,billable"] for month in MONTHS}
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
        for month, offset in MONTHS.items():
            pick = rng if month == "2024-10" else later
            for t in range(20):
                tickets[month].append(f"{account},{account}-T{t // 2},Ticket {t // 2},{month}-{1 + t:02d}T10:00:00"
                                      f"{offset},{pick.choice(['0.25', '0.5', '1.0', '1.5'])},"
                                      f"{'false' if t == 7 else 'true'}")
    for month in MONTHS:  # the same users and devices each month; new time rows
        exports = root / "exports" / month
        exports.mkdir(parents=True)
        (exports / "users.csv").write_text("\n".join(users) + "\n")
        (exports / "assets.csv").write_text("\n".join(assets) + "\n")
        (exports / "tickets.csv").write_text("\n".join(tickets[month]) + "\n")
    an_hour_ago = time.time() - 3600  # as in a real repo: files saved seconds ago are not cached between runs
    for path in root.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))


def run_once(root: Path, code: Path | None = None, args: tuple[str, ...] = ("bill", "2024-10", "--no-pdf")
             ) -> tuple[float, int]:
    """(wall seconds, max RSS in MiB) of one `otb` process (by default `otb bill 2024-10 --no-pdf`); `code`: run
    the otb_billing package found there instead of the installed one."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    else:
        env.pop("PYTHONPATH", None)
    start = time.perf_counter()
    # cwd: the repo billed, never this checkout (`python -m` puts the cwd first on sys.path, which would run this
    # checkout's otb_billing in place of the baseline's)
    proc = subprocess.Popen([sys.executable, "-m", "otb_billing", *args, "--root", str(root)], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"otb {args[0]} failed: {proc.stderr.read().decode()[:2000]}")
    return wall, usage.ru_maxrss // 1024


@contextlib.contextmanager
def baseline_worktree(rev: str | None):
    """A temporary git worktree of `rev` (None: no baseline), removed afterwards."""
    if rev is None:
        yield None
        return
    repo = Path(__file__).resolve().parent.parent
    folder = Path(tempfile.mkdtemp(prefix="otb-baseline-"))
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-f", str(folder), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {**os.environ, "PYTHONPATH": str(folder)}
        found = subprocess.run([sys.executable, "-c", "import otb_billing; print(otb_billing.__file__)"], env=env,
                               cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout
        if not found.startswith(str(folder)):  # the comparison would be of this version with itself
            raise SystemExit(f"the baseline imports {found.strip()}, not the worktree {folder}")
        yield folder
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def fresh(root: Path) -> None:
    """The repo as before any bill: no ledger, no build/, no otb state.

    They are moved aside, not deleted (bench's `main` deletes them at the end): ext4 will not give out an inode
    freed in the last minute, and right after deleting the last run's 3,000 files its allocator scanned past them
    for every file the bill created (a fifth of a first bill's time at 1,000 clients went to `recently_deleted`,
    in perf), which no billing admin's first bill of a month meets."""
    aside = root.parent / "aside" / str(time.monotonic_ns())
    for name in ("ledger", "build", ".otb"):
        if (root / name).exists():
            aside.mkdir(parents=True, exist_ok=True)
            (root / name).rename(aside / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the repos under this folder and keep them")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision, interleaved, for ratios")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="otb-bench-"))
    print("first: a new month billed (no ledger yet); again: the same month billed again, nothing changed")
    print("next: the month after, billed right after (new exports; the client files kept in .otb/ by the bills before)")
    print(f"{'clients':>8} {'rows':>9} {'version':>9} {'first s':>8} {'again s':>8} {'next s':>8} {'µs/row':>7} "
          f"{'max RSS MiB':>12} {'next MiB':>9}")
    try:
        with baseline_worktree(args.baseline) as old:
            for n in args.sizes:
                root = base / f"n{n}"
                if root.exists():
                    shutil.rmtree(root)
                build(root, n)
                rows = sum(sum(1 for _ in open(p)) - 1 for p in (root / "exports/2024-10").glob("*.csv"))
                versions = {"this": None} if old is None else {"this": None, args.baseline[:9]: old}
                first: dict[str, list] = {name: [] for name in versions}
                again: dict[str, list] = {name: [] for name in versions}
                later: dict[str, list] = {name: [] for name in versions}
                for run in range(args.runs):
                    # every other run the baseline goes first: the run after another's writes is not always this one's
                    for name, code in (list(versions.items()) if run % 2 == 0 else list(versions.items())[::-1]):
                        fresh(root)
                        first[name].append(run_once(root, code))
                        again[name].append(run_once(root, code))
                        later[name].append(run_once(root, code, ("bill", "2024-11", "--no-pdf")))
                medians = {}
                for name in versions:
                    f = statistics.median(w for w, _ in first[name])
                    a = statistics.median(w for w, _ in again[name])
                    x = statistics.median(w for w, _ in later[name])
                    rss = max(r for _, r in first[name] + again[name])
                    rss_next = max(r for _, r in later[name])
                    medians[name] = (f, a, x, rss, rss_next)
                    print(f"{n:>8} {rows:>9} {name:>9} {f:>8.2f} {a:>8.2f} {x:>8.2f} {f / rows * 1e6:>7.1f} {rss:>12} "
                          f"{rss_next:>9}", flush=True)
                if old is not None:
                    (f0, a0, x0, r0, n0), (f1, a1, x1, r1, n1) = medians["this"], medians[args.baseline[:9]]
                    print(f"{'':>8} {'':>9} {'ratio':>9} {f0 / f1:>8.2f} {a0 / a1:>8.2f} {x0 / x1:>8.2f} {'':>7} "
                          f"{r0 / r1:>12.2f} {n0 / n1:>9.2f}")
                shutil.rmtree(base / "aside", ignore_errors=True)  # what fresh() moved aside
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
