"""Benchmark `otb status` and `otb aging` on a ledger of N clients x 12 months: an invoice per client and month,
and a payment for most of them (by default 10,000 clients: 120,000 invoices and about 120,000 payments).

The ledger is written directly in otb's format (billing 10,000 clients for 12 months would take longer than the
measurement); it passes bean-check with otb's plugin. Each command runs as a separate process: the first run
after the ledger is written (cold: nothing cached), then R more (warm). With --baseline REV the same runs are
made with that git revision, interleaved, and the ratio of the warm medians is printed.

    python bench/bench_reports.py [N] [--runs 3] [--baseline REV] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bill import baseline_worktree, run_once  # noqa: E402

MAIN = """\
option "title" "Bench MSP"
option "operating_currency" "CAD"
option "inferred_tolerance_default" "CAD:0.005"
plugin "otb_billing.books.plugin"

include "accounts.beancount"
{includes}
"""


def build(root: Path, clients: int, seed: int = 11) -> tuple[int, int]:
    """Write settings and a ledger; (invoices, payments) written."""
    rng = random.Random(seed)
    ledger = root / "ledger"
    (ledger / "invoices" / "2024").mkdir(parents=True)
    (ledger / "payments").mkdir()
    (root / "settings.yaml").write_text("business: {name: Bench MSP, province: ON, country: CA}\ncurrency: CAD\n"
                                        "timezone: America/Toronto\n")
    accounts = ["2020-01-01 open Assets:Bank:Operating CAD", "2020-01-01 open Income:Managed:Users CAD",
                "2020-01-01 open Liabilities:Tax:HST CAD"]
    for c in range(clients):
        accounts.append(f'2020-01-01 open Assets:Receivable:{100000 + c} CAD\n  account_number: "{100000 + c}"\n'
                        f'  client: "Client {c}"')
    (ledger / "accounts.beancount").write_text("\n".join(accounts) + "\n")
    payments: dict[int, list[str]] = {2024: [], 2025: []}
    invoices = paid = 0
    includes = []
    for month in range(1, 13):
        last = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        day = f"2024-{month:02d}-{last:02d}"
        due_month, due_year = (month % 12) + 1, 2024 + (month == 12)
        due = f"{due_year}-{due_month:02d}-{min(last, 28):02d}"
        blocks = []
        for c in range(clients):
            account = f"{100000 + c}"
            number = f"{account}-2024{month:02d}"
            subtotal = rng.randint(20000, 900000)  # cents
            tax = (subtotal * 13 + 50) // 100
            total = subtotal + tax
            blocks.append(
                f'{day} * "Client {c}" "Invoice {number}" ^{number}\n  invoice: "{number}"\n  account: "{account}"\n'
                f'  period: "2024-{month:02d}"\n  due: {due}\n'
                f"  Assets:Receivable:{account}  {total / 100:.2f} CAD\n"
                f"  Income:Managed:Users  -{subtotal / 100:.2f} CAD\n  Liabilities:Tax:HST  -{tax / 100:.2f} CAD\n")
            invoices += 1
            roll = rng.random()
            if roll < 0.08:
                continue  # unpaid
            amount = total if roll > 0.15 else total // 2  # some partial
            year = due_year
            pay_day = f"{year}-{due_month:02d}-{rng.randint(1, 28):02d}"
            reference = f"PAY-{number}"
            payments[year].append(
                f'{pay_day} * "Client {c}" "Payment {reference}" ^{number}\n  payment: "{reference}"\n'
                f'  account: "{account}"\n  method: "eft"\n  Assets:Bank:Operating  {amount / 100:.2f} CAD\n'
                f'  Assets:Receivable:{account}  -{amount / 100:.2f} CAD\n    invoice: "{number}"\n')
            paid += 1
        path = f"invoices/2024/2024-{month:02d}.beancount"
        (ledger / path).write_text("\n".join(blocks))
        includes.append(f'include "{path}"')
    for year, blocks in payments.items():
        (ledger / f"payments/{year}.beancount").write_text("\n".join(blocks))
        includes.append(f'include "payments/{year}.beancount"')
    (ledger / "main.beancount").write_text(MAIN.format(includes="\n".join(includes)))
    return invoices, paid


COMMANDS = {"status": ("status", "--as-of", "2025-01-31"), "aging": ("aging", "--as-of", "2025-01-31")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clients", nargs="?", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the ledger under this folder and keep it")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision, interleaved, for ratios")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="otb-bench-reports-"))
    try:
        with baseline_worktree(args.baseline) as old:
            versions = {"this": None} if old is None else {"this": None, args.baseline[:9]: old}
            roots = {}
            for name in versions:  # a ledger each, so that one version's caches never serve the other
                roots[name] = base / f"{name}-{args.clients}"
                if roots[name].exists():
                    shutil.rmtree(roots[name])
                invoices, paid = build(roots[name], args.clients)
            print(f"{invoices:,} invoices, {paid:,} payments; cold: the first run after the ledger was written")
            print(f"{'command':>8} {'version':>9} {'cold s':>7} {'warm s':>7} {'max RSS MiB':>12}")
            for command, argv in COMMANDS.items():
                warm: dict[str, list] = {}
                cold: dict[str, tuple] = {}
                for name, code in versions.items():
                    cold[name] = run_once(roots[name], code, argv)
                for _ in range(args.runs):
                    for name, code in versions.items():
                        warm.setdefault(name, []).append(run_once(roots[name], code, argv))
                medians = {}
                for name in versions:
                    median = statistics.median(w for w, _ in warm[name])
                    rss = max(r for _, r in warm[name] + [cold[name]])
                    medians[name] = median
                    print(f"{command:>8} {name:>9} {cold[name][0]:>7.2f} {median:>7.2f} {rss:>12}", flush=True)
                if old is not None:
                    print(f"{'':>8} {'ratio':>9} {'':>7} {medians['this'] / medians[args.baseline[:9]]:>7.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
