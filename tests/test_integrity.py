"""Regression tests of issue 7 (money integrity under crashes, retries and bad input), one or more per item, with
amounts computed by hand.

Client A1 (Ontario, HST 13%) has 2 users at 15.00: 30.00 + 3.90 = 33.90 a month. Client U1 (Ontario, invoiced in
USD, books in CAD) has 2 users on the CAD plan and a 100.00 USD hosting line; at 1.2500 CAD per USD a user is 12.00
USD: 24.00 + 100.00 + 2% conversion fee 2.48 = 126.48, HST 16.44, total 142.92 USD (178.65 CAD).
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import convert, inventory
from beanquery.query import run_query
from conftest import ok

from otb_billing import journal
from otb_billing.books.writer import QUERIES

USERS = "account,user_id,name,email,active"


class PowerCut(BaseException):
    """Stops a run dead in the middle, like a kill: nothing of otb catches it."""


@pytest.fixture
def a1(repo):
    repo.client("A1", name="Alpha Dental")
    for month in ("2024-09", "2024-10"):
        repo.csv(month, "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true")
    ok(repo, "bill", "2024-09")
    ok(repo, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    return repo


@pytest.fixture
def usd(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text() + "conversion_fee_pct: 2\n")
    repo.client("U1", "currency: USD\nline_items:\n  - {name: Hosting, monthly: 100.00}\n", name="Union Co")
    for month in ("2024-10", "2024-11"):
        repo.csv(month, "users.csv", USERS, "U1,u1,One,,true", "U1,u2,Two,,true")
    ok(repo, "fx", "set", "USD", "1.2500", "--date", "2024-10-31")
    ok(repo, "bill", "2024-10")
    return repo


def status(repo, as_of: str) -> dict:
    document = json.loads(ok(repo, "status", "--as-of", as_of, "--json"))
    return {i["invoice"]: (i["status"], i["paid"], i["credited"], i["balance"]) for i in document["invoices"]}


def aging(repo, as_of: str) -> dict:
    return {c["account"]: (c["credit"], c["balance"])
            for c in json.loads(ok(repo, "aging", "--as-of", as_of, "--json"))["clients"]}


def held(repo) -> dict[str, tuple[str, str]]:
    """Each account's units and cost (book value) in the whole ledger, as Beancount books it; no errors."""
    entries, errors, _ = loader.load_file(str(repo.root / "ledger/main.beancount"))
    assert errors == [], errors
    out: dict[str, inventory.Inventory] = {}
    for entry in entries:
        for posting in getattr(entry, "postings", ()):
            out.setdefault(posting.account, inventory.Inventory()).add_position(posting)
    return {a: (str(i.reduce(convert.get_units)), str(i.reduce(convert.get_cost))) for a, i in out.items()}


# --- 1. a credit note on a paid invoice is credit on account, shown and applied ------------------------------


def test_a_credit_note_on_a_paid_invoice_becomes_credit_on_account_and_is_applied(a1):
    ok(a1, "pay", "A1", "33.90", "--date", "2024-10-10", "--ref", "CHQ-1")
    ok(a1, "credit", "A1-202409", "--amount", "10.00", "--reason", "SLA", "--date", "2024-10-15",
       "--at", "2024-10-15T10:00:00Z")
    # paid 33.90, credited 10.00: the invoice is settled by 23.90 of the payment, the other 10.00 is credit
    assert status(a1, "2024-10-20")["A1-202409"] == ("paid", "23.90", "10.00", "0.00")
    assert aging(a1, "2024-10-20") == {"A1": ("10.00", "-10.00")}
    statement = json.loads(ok(a1, "statement", "A1", "--to", "2024-10-20", "--json"))
    assert statement["closing"] == "-10.00"
    october = json.loads(ok(a1, "bill", "2024-10", "--json"))["invoices"][0]
    assert (october["total"], october["credit_applied"], october["amount_due"]) == ("33.90", "10.00", "23.90")
    ok(a1, "finalize", "2024-10", "--at", "2024-11-01T09:00:00Z")
    assert status(a1, "2024-11-05")["A1-202410"] == ("partial", "10.00", "0.00", "23.90")
    assert aging(a1, "2024-11-05") == {"A1": ("0.00", "23.90")}
    assert held(a1)["Assets:Receivable:A1"][0] == "(23.90 CAD)"  # 33.90 x 2 - 33.90 - 10.00


# --- 2. numbers are read one documented way --------------------------------------------------------------------


def test_decimal_commas_are_read_when_settings_say_so(a1):
    a1.write("settings.yaml", (a1.root / "settings.yaml").read_text() + 'number_format: "1 234,56"\n')
    a1.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", 'A1,T1,Fix,2024-10-02,"1,5"')
    invoice = a1.invoice()
    support = [line for line in invoice["lines"] if line["category"] == "support"]
    assert (support[0]["quantity"], support[0]["amount"]) == ("1.5", "225.00")  # 1,5 h x 150.00
    bank = a1.write("bank.csv", 'date,amount,description\n2024-10-20,"1 033,90",Alpha Dental\n')
    out = ok(a1, "import-payments", str(bank))
    assert "2024-10-20 $1,033.90 from Alpha Dental (A1)" in out


# --- 4. a price raised later never asks for an adjustment of an issued invoice --------------------------------


def test_a_price_rise_after_finalizing_is_not_an_adjustment_but_a_new_user_is(a1):
    ok(a1, "bill", "2024-10")
    ok(a1, "finalize", "2024-10", "--at", "2024-11-01T09:00:00Z")
    plan = a1.root / "plans/gold.yaml"
    plan.write_text(plan.read_text().replace("per_user: 15.00", "per_user: 16.00"))
    again = ok(a1, "bill", "2024-10")
    assert "--adjust" not in again and "credit the difference" not in again
    nothing = a1.run("bill", "2024-10", "--adjust", "A1", "--date", "2024-11-15")
    assert (
        nothing.exit_code == 1 and "A1-202410 already bills what the inputs give: nothing to adjust" in nothing.output
    )
    a1.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "A1,u3,Three,,true")
    out = ok(a1, "bill", "2024-10", "--adjust", "A1", "--date", "2024-11-15")
    # one more user at the 15.00 the invoice was issued with (not the new 16.00), HST 1.95
    assert "Adjustment invoice A1-202410-A1 (draft): $15.00 + tax $1.95 = $16.95" in out
    text = (a1.root / "ledger/invoices/2024/2024-10.beancount").read_text()
    assert "Assets:Receivable:A1 16.95 CAD" in " ".join(text.split())


# --- 5, 6. a run killed half way is completed by the next one (tests/test_crash.py kills every command) --------


def test_a_change_interrupted_after_its_commit_point_is_completed_by_the_next_run(a1, monkeypatch):
    real = journal.replace_into
    calls = []

    def power_cut(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise PowerCut("the power went out")
        return real(source, target)

    monkeypatch.setattr(journal, "replace_into", power_cut)
    with pytest.raises(PowerCut):
        a1.run("pay", "A1", "33.90", "--date", "2025-01-06", "--ref", "EFT-2025")  # a new year's file + main
    monkeypatch.setattr(journal, "replace_into", real)
    assert (a1.root / ".otb/txn/journal.json").exists()
    result = a1.run("status", "--as-of", "2025-01-07")
    assert result.exit_code == 0
    assert "Completed an interrupted otb run (otb pay A1 33.90 --date 2025-01-06 --ref EFT-2025)" in result.output
    assert 'include "payments/2025.beancount"' in (a1.root / "ledger/main.beancount").read_text()
    assert status(a1, "2025-01-07")["A1-202409"][0] == "paid"
    again = ok(a1, "pay", "A1", "33.90", "--date", "2025-01-06", "--ref", "EFT-2025")
    assert "is already recorded: nothing was written" in again
    assert (a1.root / "ledger/payments/2025.beancount").read_text().count('payment: "EFT-2025"') == 1


def test_an_interrupted_change_is_not_forced_over_a_file_edited_since(a1, monkeypatch):
    monkeypatch.setattr(journal, "_apply", lambda root, txn, entries: (_ for _ in ()).throw(PowerCut()))
    with pytest.raises(PowerCut):
        a1.run("pay", "A1", "10.00", "--date", "2024-10-20", "--ref", "X1")
    monkeypatch.undo()
    payments = a1.root / "ledger/payments/2024.beancount"
    payments.parent.mkdir(exist_ok=True)
    payments.write_text("; edited by hand meanwhile\n")
    result = a1.run("status")
    assert result.exit_code == 1
    assert "ledger/payments/2024.beancount: changed by hand after an interrupted otb run" in result.output


def test_an_uncommitted_change_and_old_temp_files_are_swept(a1):
    (a1.root / ".otb/txn").mkdir(parents=True)
    (a1.root / ".otb/txn/00001").write_text("half a file")
    (a1.root / "ledger/.main.beancount.x1y2z3.tmp").write_text("left by an old version")
    result = a1.run("status")
    assert result.exit_code == 0 and "had not changed anything" in result.output
    assert not (a1.root / ".otb/txn").exists()
    assert not list(a1.root.rglob("*.tmp"))


def test_a_finalized_invoice_without_its_pdf_fails_bean_check(a1):
    documents = a1.root / "ledger/documents.beancount"
    documents.write_text(
        "\n".join(ln for ln in documents.read_text().splitlines() if "A1-202409" not in ln and "sha256" not in ln)
        + "\n"
    )
    result = a1.run("check")
    assert result.exit_code == 1
    assert "finalized invoice A1-202409 has no issued PDF" in result.output


# --- 7. retries are idempotent ---------------------------------------------------------------------------------


def test_retrying_pay_credit_and_reverse_records_each_once(a1):
    first = ok(a1, "pay", "A1", "20.00", "--date", "2024-10-10")
    assert "Recorded payment PAY-A1-20241010" in first
    assert "PAY-A1-20241010 ($20.00 from A1 on 2024-10-10) is already recorded: nothing was written" in ok(
        a1, "pay", "A1", "20.00", "--date", "2024-10-10"
    )
    assert "Recorded payment PAY-A1-20241010-2" in ok(a1, "pay", "A1", "5.00", "--date", "2024-10-10")
    credit = ("credit", "A1-202409", "--amount", "3.39", "--reason", "SLA", "--date", "2024-10-12")
    assert "Issued credit note CN-A1-202409-1" in ok(a1, *credit, "--at", "2024-10-12T10:00:00Z")
    assert "CN-A1-202409-1 ($3.39, same date and reason) is already issued" in ok(a1, *credit)
    assert "Reversed payment PAY-A1-20241010" in ok(a1, "pay", "--reverse", "PAY-A1-20241010", "--date", "2024-10-20")
    assert "already reversed by PAY-A1-20241010-R: nothing was written" in ok(
        a1, "pay", "--reverse", "PAY-A1-20241010", "--date", "2024-10-20"
    )
    payments = (a1.root / "ledger/payments/2024.beancount").read_text()
    assert payments.count('payment: "PAY-A1-20241010"') == 1 and payments.count("reverses:") == 1
    assert (a1.root / "ledger/credits/2024.beancount").read_text().count("credit_note:") == 1
    # 33.90 - 5.00 paid - 3.39 credited
    assert status(a1, "2024-10-25")["A1-202409"] == ("partial", "5.00", "3.39", "25.51")


# --- 8. bill refuses a ledger that fails bean-check, and checks the whole new ledger ---------------------------


def test_bill_refuses_to_start_on_a_ledger_that_fails_bean_check(a1):
    month = a1.root / "ledger/invoices/2024/2024-09.beancount"
    month.write_text(month.read_text().replace("-30.00 CAD", "-20.00 CAD").replace("33.90 CAD", "23.90 CAD"))
    result = a1.run("bill", "2024-10")
    assert result.exit_code == 1
    assert "finalized invoice A1-202409 was edited by hand" in result.output
    assert "the ledger must pass bean-check before it is changed" in result.output
    assert not (a1.root / "ledger/invoices/2024/2024-10.beancount").exists()


@pytest.mark.parametrize("loader_kind", ["uncached", "beancount's cached loader"])
def test_bill_checks_the_ledger_as_it_would_be_even_beside_beancounts_pickle_cache(a1, monkeypatch, loader_kind):
    """A1 owes 33.90 after September; a balance assertion of that on 2024-11-01 holds until October's 33.90 is
    billed, so billing October must be refused. The version this work started from wrote it: its check mirrored the
    ledger folder, Beancount's pickle cache included, and Beancount took the old ledger from that cache. Both
    loaders the check can use must see the new month (the cached one is the fallback for another Beancount)."""
    from beancount import loader

    from otb_billing.books import verify

    accounts = a1.root / "ledger/accounts.beancount"
    accounts.write_text(accounts.read_text() + "\n2024-11-01 balance Assets:Receivable:A1  33.90 CAD\n")
    for path in (a1.root / "ledger").rglob("*.beancount"):  # old enough to be parsed ahead (books/preparse.py)
        os.utime(path, (1_600_000_000, 1_600_000_000))
    monkeypatch.setattr(loader, "PICKLE_CACHE_THRESHOLD", 0.0)
    loader.initialize(True)  # every load is worth a pickle cache, as a big ledger's is
    try:
        if loader_kind != "uncached":
            monkeypatch.setattr(verify, "_UNCACHED", None)
        ok(a1, "check")  # the ledger passes as it is, and Beancount caches it beside main.beancount
        assert (a1.root / "ledger/.main.beancount.picklecache").exists()
        before = {p: p.read_bytes() for p in (a1.root / "ledger").rglob("*.beancount")}
        result = a1.run("bill", "2024-10")
        assert result.exit_code == 1, result.output
        assert ("Balance failed for 'Assets:Receivable:A1': expected 33.90 CAD != accumulated 67.80 CAD"
                in result.output)
        assert {p: p.read_bytes() for p in (a1.root / "ledger").rglob("*.beancount")} == before
    finally:
        monkeypatch.undo()
        loader.initialize(True)


# --- 10, 11, 12. foreign-currency operations --------------------------------------------------------------------


def test_a_usd_payment_before_finalizing_is_used_by_the_invoice_when_it_is_issued(usd):
    ok(usd, "pay", "U1", "50.00", "--date", "2024-10-20", "--rate", "1.2000", "--ref", "W1")
    assert "Finalized 1 invoice(s): U1-202410" in ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    assert status(usd, "2024-11-05")["U1-202410"] == ("partial", "50.00", "0.00", "92.92")
    books = held(usd)
    # 50 USD came in at 1.20 (60.00 CAD) and settle 50 USD of a lot at 1.25 (62.50 CAD): a 2.50 loss
    assert books["Income:FX"] == ("(2.50 CAD)", "(2.50 CAD)")
    assert books["Assets:Receivable:U1"] == ("(92.92 USD)", "(116.150000 CAD)")  # 92.92 x 1.25
    assert books["Liabilities:Deposits:U1"] == ("()", "()")


def test_a_usd_payment_after_the_invoice_date_that_exceeds_it(usd):
    ok(usd, "pay", "U1", "200.00", "--date", "2024-11-05", "--rate", "1.3000", "--ref", "W1")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-06T00:00:00Z")
    assert status(usd, "2024-11-10")["U1-202410"] == ("paid", "142.92", "0.00", "0.00")
    assert aging(usd, "2024-11-10") == {"U1": ("57.08", "-57.08")}
    books = held(usd)
    assert books["Assets:Receivable:U1"] == ("()", "()")
    assert books["Liabilities:Deposits:U1"][0] == "(-57.08 USD)"
    assert books["Income:FX"][0] == "(-7.15 CAD)"  # 142.92 x (1.30 - 1.25) = 7.146: a gain


def test_a_credit_note_on_a_paid_usd_invoice_is_credit_on_account_for_the_next_one(usd):
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    ok(usd, "pay", "U1", "142.92", "--date", "2024-11-20", "--rate", "1.3000", "--ref", "W1")
    out = ok(
        usd,
        "credit",
        "U1-202410",
        "--amount",
        "20.00",
        "--reason",
        "SLA",
        "--date",
        "2024-11-25",
        "--at",
        "2024-11-25T10:00:00Z",
    )
    assert "Issued credit note CN-U1-202410-1 for US$20.00 on U1-202410" in out
    text = (usd.root / "ledger/credits/2024.beancount").read_text()
    assert (
        " ".join(text.split()).count('Liabilities:Deposits:U1 -20.00 USD {1.2500 CAD, 2024-11-25, "CR-CN-U1-202410-1"}')
        == 1
    )
    assert status(usd, "2024-11-26")["U1-202410"] == ("paid", "122.92", "20.00", "0.00")
    assert aging(usd, "2024-11-26") == {"U1": ("20.00", "-20.00")}
    ok(usd, "fx", "set", "USD", "1.2000", "--date", "2024-11-30")
    # November at 1.20: 12.50 a user, 25.00 + 100.00 + fee 2.50 = 127.50, HST 16.58, total 144.08 USD
    november = json.loads(ok(usd, "bill", "2024-11", "--json"))["invoices"][0]
    assert (november["total"], november["credit_applied"], november["amount_due"]) == ("144.08", "20.00", "124.08")
    ok(usd, "finalize", "2024-11", "--at", "2024-12-01T00:00:00Z")
    books = held(usd)
    assert books["Assets:Receivable:U1"][0] == "(124.08 USD)"
    assert books["Liabilities:Deposits:U1"] == ("()", "()")
    # FX: W1 142.92 x (1.30 - 1.25) = 7.146 gain; the 20.00 credit held at 1.25 used on a 1.20 lot: 1.00 gain
    assert books["Income:FX"][0] == "(-8.15 CAD)"


def test_a_full_usd_credit_after_partial_ones_brings_every_account_of_the_invoice_to_zero(usd):
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    for day in ("2024-11-02", "2024-11-03", "2024-11-04"):
        ok(
            usd,
            "credit",
            "U1-202410",
            "--amount",
            "10.01",
            "--reason",
            f"part {day}",
            "--date",
            day,
            "--at",
            f"{day}T10:00:00Z",
        )
    ok(
        usd,
        "credit",
        "U1-202410",
        "--full",
        "--reason",
        "cancel",
        "--date",
        "2024-11-05",
        "--at",
        "2024-11-05T10:00:00Z",
    )
    assert status(usd, "2024-11-06")["U1-202410"] == ("cancelled", "0.00", "142.92", "0.00")
    entries, errors, _ = loader.load_file(str(usd.root / "ledger/main.beancount"))
    assert errors == []
    totals: dict[str, Decimal] = {}
    for entry in entries:
        if type(entry).__name__ == "Transaction" and "U1-202410" in (entry.links or ()):
            for p in entry.postings:
                if not p.account.startswith(("Assets:Receivable", "Income:FX")):
                    totals[p.account] = totals.get(p.account, Decimal(0)) + p.units.number
    assert totals and all(v == 0 for v in totals.values()), totals
    assert held(usd)["Assets:Receivable:U1"] == ("()", "()")
    main = (usd.root / "ledger/main.beancount").read_text()
    assert 'option "inferred_tolerance_default" "CAD:0.005"' in main


def test_one_invoice_that_cannot_be_issued_never_holds_back_the_others(repo):
    repo.client("A1", name="Alpha")
    repo.client("B2", name="Beta", province="AB")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true")
    ok(repo, "bill", "2024-10")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true", "B2,u3,Three,,true")
    result = repo.run("finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    assert result.exit_code == 1
    assert "Finalized 1 invoice(s): A1-202410" in result.output
    assert "Not finalized: B2-202410" in result.output
    assert "B2-202410: the inputs no longer give the draft in the ledger" in result.output
    assert status(repo, "2024-11-02")["A1-202410"][0] == "open"
    assert status(repo, "2024-11-02")["B2-202410"][0] == "draft"


# --- 13. a name too long for a file name ---------------------------------------------------------------------


def test_a_300_character_client_name_bills_with_a_shortened_file_name(repo):
    name = "Acme " + "Holdings " * 33 + "Ltd"
    repo.client("A1", name=name)
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    ok(repo, "bill", "2024-10")
    csvs = [p.name for p in (repo.root / "build/2024-10").glob("*-A1-202410.csv")]
    assert len(csvs) == 1 and csvs[0].endswith("-A1-202410.csv") and len(csvs[0].encode()) <= 140
    assert name in (repo.root / "ledger/invoices/2024/2024-10.beancount").read_text()


# --- 15. what a spreadsheet would run, and passwords in git --------------------------------------------------


def test_revenue_csv_never_hands_a_spreadsheet_a_formula(repo):
    repo.client("A1", name='=HYPERLINK("http://evil.example","Click")')
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    ok(repo, "bill", "2024-10")
    out = repo.root / "revenue.csv"
    ok(repo, "report", "revenue", "--csv", str(out))
    assert "'=HYPERLINK" in out.read_text() and ",=HYPERLINK" not in out.read_text()


def test_a_password_file_in_the_repo_is_accepted_only_when_git_ignores_it(repo):
    repo.client("A1")
    settings = repo.root / "settings.yaml"
    settings.write_text(settings.read_text() + "smtp: {host: h, from_address: a@b.example, password_file: pw.txt}\n")
    assert "is inside the billing repo and not git-ignored" in repo.run("check").output
    subprocess.run(["git", "init", "-q", str(repo.root)], check=True)
    (repo.root / ".gitignore").write_text("pw.txt\n")
    result = repo.run("check")
    assert result.exit_code == 0, result.output


# --- 17. billing a finalized month again keeps its outputs; otb export makes them again ------------------------


def test_rebilling_a_finalized_month_keeps_its_csvs_pdfs_and_zip(a1):
    ok(a1, "bill", "2024-10")
    ok(a1, "finalize", "2024-10", "--at", "2024-11-01T09:00:00Z")
    build = a1.root / "build/2024-10"
    before = {p.name: p.read_bytes() for p in build.iterdir()}
    assert sorted(before) == [
        "A1-202410.pdf",
        "Alpha Dental-A1-202410.csv",
        "bill-report.json",
        "invoices-2024-10.zip",
        "pdf-keys.json",
        "quickbooks-invoices-2024-10.csv",
    ]
    ok(a1, "bill", "2024-10")
    assert {p.name: p.read_bytes() for p in build.iterdir()} == before
    for path in build.iterdir():
        if path.name != "bill-report.json":  # from the bill, not from the ledger
            path.unlink()
    assert "Wrote 6 file(s) in build/2024-10/" in ok(a1, "export", "2024-10")  # and payments, credit memos
    assert (build / "Alpha Dental-A1-202410.csv").read_bytes() == before["Alpha Dental-A1-202410.csv"]
    assert (build / "A1-202410.pdf").read_bytes() == (a1.root / "ledger/documents/2024/A1-202410.pdf").read_bytes()
    assert (build / "invoices-2024-10.zip").read_bytes() == before["invoices-2024-10.zip"]


def test_a_client_taken_out_of_a_month_loses_its_draft_outputs(repo):
    repo.client("A1", name="Alpha")
    repo.client("B2", name="Beta", province="AB")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "B2,u2,Two,,true")
    ok(repo, "bill", "2024-10")
    (repo.root / "clients/B2.yaml").unlink()
    ok(repo, "bill", "2024-10")
    assert sorted(p.name for p in (repo.root / "build/2024-10").iterdir()) == [
        "A1-202410.pdf",
        "Alpha-A1-202410.csv",
        "bill-report.json",
        "invoices-2024-10.zip",
        "pdf-keys.json",
        "quickbooks-invoices-2024-10.csv",
    ]


# --- 19. every saved query runs --------------------------------------------------------------------------------


def test_every_saved_query_runs_in_beanquery_on_the_example_ledger():
    main = Path(__file__).resolve().parent.parent / "ledger/main.beancount"
    entries, errors, options = loader.load_file(str(main))
    assert errors == []
    for name, sql in QUERIES:
        _, rows = run_query(entries, options, sql)
        assert rows, name
    aging_rows = run_query(entries, options, dict(QUERIES)["AR aging by due month"])[1]
    assert (2024, 10, "Wayne Enterprises", "987654-202409", Decimal("2903.11")) in aging_rows
