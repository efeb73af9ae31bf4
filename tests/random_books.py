"""A random run of billing operations (CAD and USD) that reconciles the reports with Beancount at every step.

Bill, rebill, finalize, pay (part, in full, too much, a named invoice, out of date order), reverse, credit (part
and full, paid invoices included), import bank statements and bill adjustments, chosen at random from a seed.
After every operation, for every client:

    otb aging --json balance + the client's draft totals (otb status --json; every tenth step through the
    command line, otherwise the same report functions on the entries the check loaded)
        == Assets:Receivable:<client> + Liabilities:Deposits:<client> in bean-query (units, client's currency)

on a date past everything after every operation (and on a random day after every third), and the ledger passes
bean-check. A command may refuse (a credit
larger than what is left, say) but never with a traceback or an "internal error".

`python tests/random_books.py [--steps 500] [--seed 1]` prints the figures; tests/test_random_books.py runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import beanquery
from beancount import loader
from beanquery.parser import parse
from click.testing import CliRunner

from otb_billing.books import records_cache
from otb_billing.books.extract import Books, extract_records
from otb_billing.cli import main
from otb_billing.core.receivables import aging as aging_rows
from otb_billing.core.receivables import last_entry
from otb_billing.jobs import ledger_edit
from otb_billing.jobs.reports import status_rows
from otb_billing.render.text import aging_json, status_json

SETTINGS = """\
business: {name: Random MSP, email: billing@random.example, address: ["1 Main St", "Toronto ON"], province: ON}
currency: CAD
timezone: America/Toronto
invoice: {terms_days: 30, number: "{account}-{year}{month:02d}"}
tax: {registrations: {GST/HST: "123456789RT0001", QST: "1234567890TQ0001", PST-BC: "PST-1234-5678"}}
conversion_fee_pct: 2
bank: {accounts: {USD: "Assets:Bank:USD"}}
"""
PLAN = """\
name: Gold
support_level: hourly
terms:
  "1 Year": {per_user: 15.00, per_workstation: 75.00, per_server: 125.00, per_hour: 150.00,
             backup_base_workstation: 5.00, backup_included_tb: 1.0, backup_per_tb: 25.00}
"""
CLIENTS = {  # account: (name, province, country, currency)
    "A1": ("Alpha Dental", "ON", "CA", ""),
    "B2": ("Beta Law", "AB", "CA", ""),
    "C3": ("Gamma Média", "QC", "CA", ""),
    "D4": ("Delta Mills", "BC", "CA", ""),
    "U5": ("Upsilon Inc", "ON", "CA", "USD"),
    "W6": ("Omega LLC", "", "US", "USD"),
}
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
FAR = "2099-12-31"
# bean-query over the receivables and deposits, parsed once (beanquery takes 0.1 s to parse a query)
BALANCES = parse("SELECT date, account, number WHERE account ~ '^(Assets:Receivable|Liabilities:Deposits):'")


def build_repo(root: Path, rng: random.Random, clients: dict = CLIENTS) -> None:
    (root / "plans").mkdir(parents=True)
    (root / "clients").mkdir()
    (root / "settings.yaml").write_text(SETTINGS)
    (root / "plans/gold.yaml").write_text(PLAN)
    for account, (name, province, country, currency) in clients.items():
        lines = [f'account: "{account}"', f"name: {name}", f"country: {country}", "plan: Gold", 'term: "1 Year"']
        lines += [f"province: {province}"] if province else []
        lines += [f"currency: {currency}"] if currency else []
        (root / f"clients/{account}.yaml").write_text("\n".join(lines) + "\n")
    for month in MONTHS:
        folder = root / "exports" / month
        folder.mkdir(parents=True)
        users, assets, tickets = ["account,user_id,name,active"], ["account,asset_id,hostname,type,backup_tb"], \
            ["account,ticket,subject,date,hours"]
        for account in clients:
            for n in range(rng.randint(1, 6)):
                users.append(f"{account},{account}-u{n},User {n},true")
            for n in range(rng.randint(0, 4)):
                kind = rng.choice(["workstation", "workstation", "server"])
                assets.append(f"{account},{account}-d{n},HOST{n},{kind},{rng.choice(['', '0.3', '0.85'])}")
            for n in range(rng.randint(0, 3)):
                tickets.append(f"{account},{account}-T{month}-{n},Fix,{month}-{rng.randint(1, 28):02d},"
                               f"{rng.choice(['0.25', '1', '1.5', '2.75'])}")
        for name, rows in (("users.csv", users), ("assets.csv", assets), ("tickets.csv", tickets)):
            (folder / name).write_text("\n".join(rows) + "\n")
    rates = ["date,currency,rate"]
    day = dt.date(2024, 1, 1)
    while day <= dt.date(2025, 6, 30):
        rates.append(f"{day},USD,{Decimal('1.3') + Decimal(rng.randint(0, 999)) / 10000}")
        day += dt.timedelta(days=3)
    (root / "rates.csv").write_text("\n".join(rates) + "\n")


@dataclass
class Figures:
    steps: int = 0
    checks: int = 0
    operations: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    internal_errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    largest_balance: Decimal = Decimal(0)
    kept_checks: int = 0  # days the stored book (records_cache.book) was compared with the derivation
    kept_records: int = 0  # steps whose records, kept by the check of otb's change, were compared with a load
    served: int = 0  # payments and bank imports that took the kept records instead of loading the ledger


class Run:
    def __init__(self, root: Path, rng: random.Random, figures: Figures):
        self.root, self.rng, self.figures = root, rng, figures
        self.billed: set[str] = set()
        self.status: list[dict] = []
        self.entries: list = []

    def otb(self, *args: str):
        result = CliRunner().invoke(main, [*args, "--root", str(self.root)])
        return result

    def op(self, name: str, *args: str) -> bool:
        result = self.otb(*args)
        self.figures.operations[name] += 1
        text = result.output or ""
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(result.exception))
            self.figures.internal_errors.append(f"{name} {args}: {trace[-1200:]}")
            return False
        if "internal error" in text or "Traceback" in text or result.exit_code not in (0, 1):
            self.figures.internal_errors.append(f"{name} {args}: exit {result.exit_code}: {text[-1200:]}")
            return False
        if result.exit_code == 1:
            self.figures.refused[name] += 1
            return False
        return True

    # -- reading the books ----------------------------------------------------------------------------------------

    def json(self, *args: str):
        result = self.otb(*args)
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.output)

    def statuses(self) -> list[dict]:
        return self.status

    def issued(self) -> list[dict]:
        return [i for i in self.statuses() if i["status"] != "draft"]

    def reconcile(self, dates: list[str]) -> None:
        """For each date: otb aging + drafts == Beancount's receivable and deposit units, per client."""
        entries, errors, options = loader.load_file(str(self.root / "ledger" / "main.beancount"))
        if errors:
            self.figures.mismatches.append(f"step {self.figures.steps}: bean-check: {errors[0].message}")
            return
        rows = beanquery.connect("beancount:", entries=entries, errors=[], options=options).execute(BALANCES).fetchall()
        self.entries = entries
        records = Books(entries=entries)
        extract_records(records, entries)
        kept = records_cache.load(self.root)  # what the check of the last change kept for status and aging
        if kept is not None:
            self.figures.kept_records += 1
            if [kept.docs, kept.payments, kept.credits, kept.applications, kept.names] != [
                    records.docs, records.payments, records.credits, records.applications, records.names]:
                self.figures.mismatches.append(f"step {self.figures.steps}: the kept records differ from a load")
        for as_of in dates:
            self.figures.checks += 1
            books: dict[str, Decimal] = defaultdict(Decimal)
            for day, account, units in rows:
                if str(day) <= as_of:
                    books[account.rsplit(":", 1)[-1]] += units
            mine: dict[str, Decimal] = defaultdict(Decimal)
            day = dt.date.fromisoformat(as_of)
            if self.figures.steps % 10 == 0:  # through the command line itself
                aging = self.json("aging", "--as-of", as_of, "--json")
                status = self.json("status", "--as-of", as_of, "--json")["invoices"]
            else:  # the same reports, rendered by the same code from the entries loaded above
                book = records.book(day)
                aging = json.loads(aging_json(aging_rows(book, records.names), day))
                status = json.loads(status_json(status_rows(book, None, set()), day))["invoices"]
                self.compare_kept(records, day, aging, status)
            for row in aging["clients"]:
                mine[row["account"]] += Decimal(row["balance"])
            if as_of == FAR:
                self.status = status
            for row in status:
                if row["status"] == "draft":
                    mine[row["account"]] += Decimal(row["total"])
            for account in sorted(set(books) | set(mine)):
                if books[account] != mine[account]:
                    self.figures.mismatches.append(f"step {self.figures.steps} as of {as_of}: {account}: reports "
                                                   f"{mine[account]}, Beancount {books[account]}")
                self.figures.largest_balance = max(self.figures.largest_balance, abs(books[account]))

    def compare_kept(self, records: Books, day: dt.date, aging: dict, status: list[dict]) -> None:
        """status and aging from the book records_cache stores (settled on the last record's day) must be the
        derived ones, on `day` and on that last day itself; a day before it must not be served from the store."""
        last = last_entry(records.docs, records.payments, records.credits, records.applications)
        blobs = records_cache._pack_docs(records.docs), records_cache._pack_settled(records)
        for when in (day, last):
            kept = records_cache._unpack_book(records_cache._unpack_docs(blobs[0]), blobs[1], when)
            if when < last:
                if kept is not None:
                    self.figures.mismatches.append(f"step {self.figures.steps}: stored book served {when} < {last}")
                continue
            if when != day:
                derived = records.book(when)
                aging = json.loads(aging_json(aging_rows(derived, records.names), when))
                status = json.loads(status_json(status_rows(derived, None, set()), when))["invoices"]
            self.figures.kept_checks += 1
            book, names = kept
            if (json.loads(aging_json(aging_rows(book, names), when)) != aging
                    or json.loads(status_json(status_rows(book, None, set()), when))["invoices"] != status):
                self.figures.mismatches.append(f"step {self.figures.steps} as of {when}: the stored book differs")

    # -- operations ----------------------------------------------------------------------------------------------

    def date_after(self, earliest: dt.date, spread: int = 40) -> str:
        return str(earliest + dt.timedelta(days=self.rng.randint(0, spread)))

    def step(self) -> str | None:
        rng = self.rng
        unbilled = [m for m in MONTHS if m not in self.billed]
        statuses = self.statuses()
        drafts = sorted({i["period"] for i in statuses if i["status"] == "draft" and "-A" not in i["invoice"]})
        open_ = [i for i in statuses if i["status"] in ("open", "partial", "overdue")]
        issued = [i for i in statuses if i["status"] != "draft"]
        choices = []
        if unbilled:
            choices += ["bill"] * 6
        if self.billed:
            choices += ["rebill"]
        if drafts:
            choices += ["finalize"] * 6
        if issued:
            choices += ["pay"] * 10 + ["pay-invoice"] * 3 + ["credit"] * 4 + ["import"] * 2 + ["adjust"]
        if self.payments():
            choices += ["reverse"] * 2
        if not choices:
            return None
        what = rng.choice(choices)
        if what == "bill":
            month = unbilled[0]
            if self.op("bill", "bill", month, "--no-pdf"):
                self.billed.add(month)
        elif what == "rebill":
            self.op("rebill", "bill", rng.choice(sorted(self.billed)), "--no-pdf")
        elif what == "finalize":
            month = rng.choice(drafts)
            at = f"{self.date_after(dt.date.fromisoformat(month + '-28'), 10)}T12:00:00Z"
            self.op("finalize", "finalize", month, "--at", at)
        elif what in ("pay", "pay-invoice"):
            target = rng.choice(open_ or issued)
            account, currency = target["account"], target["currency"]
            balance = Decimal(target["balance"]) if target in open_ else Decimal("100.00")
            amount = rng.choice([balance, balance, (balance / 2).quantize(Decimal("0.01")), balance + Decimal("55.55"),
                                 Decimal(rng.randint(1, 300000)) / 100])
            amount = max(amount, Decimal("0.01"))
            day = self.date_after(dt.date.fromisoformat(target["date"]) - dt.timedelta(days=5), 60)
            args = ["pay", account, str(amount), "--date", day]
            if rng.random() < 0.5:
                args += ["--ref", f"R{self.figures.steps}"]
            if what == "pay-invoice" and target in open_:
                args += ["--invoice", target["invoice"]]
            if currency != "CAD" and rng.random() < 0.5:
                args += ["--rate", str(Decimal("1.3") + Decimal(rng.randint(0, 999)) / 10000)]
            self.op(what, *args)
        elif what == "credit":
            target = rng.choice(issued)
            day = self.date_after(dt.date.fromisoformat(target["date"]), 50)
            if rng.random() < 0.3:
                args = ["credit", target["invoice"], "--full"]
            else:
                args = ["credit", target["invoice"], "--amount",
                        str(max(Decimal("0.01"), (Decimal(target["total"]) * Decimal(rng.randint(1, 60)) / 100)
                                .quantize(Decimal("0.01"))))]
            self.op("credit", *args, "--reason", f"step {self.figures.steps}", "--date", day,
                    "--at", f"{day}T10:00:00Z")
        elif what == "reverse":
            ref, day = rng.choice(self.payments())
            self.op("reverse", "pay", "--reverse", ref, "--date", self.date_after(day, 20))
        elif what == "import":
            self.bank_import(issued)
        elif what == "adjust":
            target = rng.choice([i for i in issued if "-A" not in i["invoice"]] or issued)
            month = target["period"]
            users = self.root / "exports" / month / "users.csv"
            users.write_text(
                users.read_text() + f"{target['account']},{target['account']}-x{self.figures.steps},"
                f"Late {self.figures.steps},true\n"
            )
            day = self.date_after(dt.date.fromisoformat(target["date"]), 30)
            self.op("adjust", "bill", month, "--adjust", target["account"], "--date", day, "--no-pdf")
        return what

    def payments(self) -> list[tuple[str, dt.date]]:
        entries = self.entries
        reversed_ = {str(e.meta.get("reverses")) for e in entries if getattr(e, "meta", None) and "reverses" in e.meta}
        return [
            (str(e.meta["payment"]), e.date)
            for e in entries
            if type(e).__name__ == "Transaction"
            and "payment" in e.meta
            and "reverses" not in e.meta
            and str(e.meta["payment"]) not in reversed_
        ]

    def bank_import(self, issued: list[dict]) -> None:
        rows = ["date,amount,description,reference"]
        cad = [i for i in issued if i["currency"] == "CAD"]
        for n in range(self.rng.randint(1, 3)):
            if not cad:
                break
            target = self.rng.choice(cad)
            day = self.date_after(dt.date.fromisoformat(target["date"]), 40)
            rows.append(
                f"{day},{target['balance'] if Decimal(target['balance']) > 0 else '10.00'},"
                f"Deposit {target['invoice']},B{self.figures.steps}-{n}"
            )
        path = self.root / f"bank-{self.figures.steps}.csv"
        path.write_text("\n".join(rows) + "\n")
        self.op("import", "import-payments", str(path), "--apply")


def run(steps: int, seed: int, progress=None, keep: Path | None = None, cad_only: bool = False) -> Figures:
    """`cad_only`: without the USD clients, so that payments and bank imports take the kept records (a ledger with
    an invoice in another currency is loaded whole): the figures count how often (`served`)."""
    figures = Figures()
    rng = random.Random(seed)
    real_kept = ledger_edit._kept_records

    def counted(root):
        kept = real_kept(root)
        figures.served += kept is not None
        return kept

    ledger_edit._kept_records = counted
    try:
        with tempfile.TemporaryDirectory(prefix="otb-random-") as folder:
            root = (keep or Path(folder)) / "repo"
            build_repo(root, rng, {a: c for a, c in CLIENTS.items() if not (cad_only and c[3])})
            books = Run(root, rng, figures)
            result = books.otb("fx", "import", str(root / "rates.csv"))
            assert result.exit_code == 0, result.output
            for _ in range(steps):
                figures.steps += 1
                books.step()
                # after every operation on a date past everything, and every third one also on a random day
                books.reconcile([FAR] + ([books.date_after(dt.date(2024, 1, 1), 420)] if figures.steps % 3 == 0
                                         else []))
                if progress and figures.steps % 50 == 0:
                    progress(figures)
                if keep and (figures.mismatches or figures.internal_errors):
                    break
    finally:
        ledger_edit._kept_records = real_kept
    return figures


def report(figures: Figures) -> str:
    lines = [
        f"{figures.steps} random operations, {figures.checks} reconciliations of otb aging + drafts against "
        f"Beancount's receivable and deposit balances",
        "operations: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.operations.items())),
        "refused with a clear message: "
        + (", ".join(f"{k} {v}" for k, v in sorted(figures.refused.items())) or "none"),
        f"stored-book comparisons: {figures.kept_checks}; kept records compared with a load: "
        f"{figures.kept_records}; payments and imports from the kept records: {figures.served}",
        f"mismatches: {len(figures.mismatches)}; internal errors: {len(figures.internal_errors)}; largest "
        f"client balance seen: {figures.largest_balance}",
    ]
    lines += [f"  {m}" for m in figures.mismatches[:10]]
    lines += [f"  {e}" for e in figures.internal_errors[:5]]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build the repo in this folder and stop at the first failure")
    parser.add_argument("--cad-only", action="store_true", help="no USD clients (payments take the kept records)")
    options = parser.parse_args()
    started = time.monotonic()
    result = run(
        options.steps,
        options.seed,
        keep=options.keep,
        cad_only=options.cad_only,
        progress=lambda f: print(
            f"  {f.steps} steps, {len(f.mismatches)} mismatches, {len(f.internal_errors)} internal errors",
            file=sys.stderr,
        ),
    )
    print(report(result))
    print(f"{time.monotonic() - started:.0f} s")
    sys.exit(1 if result.mismatches or result.internal_errors else 0)
