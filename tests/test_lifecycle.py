"""End-to-end lifecycle through the CLI on real ledgers: finalize, pay, reverse, credit, adjust, import, reports.

Amounts by hand. Client A1 (Ontario, HST 13%) has 2 users at 15.00 a month: 30.00 + 3.90 = 33.90.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from beancount import loader
from conftest import ok

GOLDEN = Path(__file__).parent / "golden"
USERS = "account,user_id,name,email,active"


@pytest.fixture
def books(repo):
    repo.client("A1", name="Alpha Dental")
    repo.client("B2", name="Beta Law", province="AB")  # GST 5%: 1 user = 15.00 + 0.75 = 15.75
    for month in ("2024-09", "2024-10"):
        repo.csv(month, "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "B2,u3,Three,,true")
        assert repo.run("bill", month).exit_code == 0
    return repo



def status(repo, as_of="2024-12-31", *extra):
    document = json.loads(ok(repo, "status", "--as-of", as_of, "--json", *extra))
    return {i["invoice"]: (i["status"], i["paid"], i["credited"], i["balance"]) for i in document["invoices"]}


def ledger_errors(repo):
    return loader.load_file(str(repo.root / "ledger/main.beancount"))[1]


def test_finalize_adds_flag_timestamp_and_digest(books):
    out = ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    assert "Finalized 2 invoice(s): A1-202409, B2-202409" in out
    text = (books.root / "ledger/invoices/2024/2024-09.beancount").read_text()
    assert '2024-09-30 * "Alpha Dental" "Invoice A1-202409 for September 2024" ^A1-202409\n' \
           '  finalized: "2024-10-01T09:00:00Z"\n  digest: "sha256:' in text
    assert ledger_errors(books) == []
    assert ok(books, "finalize", "2024-09") == "No drafts to finalize in 2024-09.\n"
    assert status(books, "2024-10-15")["A1-202409"] == ("open", "0.00", "0.00", "33.90")
    assert status(books, "2024-11-01")["A1-202410"][0] == "draft"


def test_bill_finalize_pay_part_then_the_rest(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    out = ok(books, "pay", "A1", "20.00", "--date", "2024-10-10", "--ref", "CHQ-1", "--method", "cheque")
    assert "A1-202409: $20.00" in out
    assert status(books, "2024-10-15")["A1-202409"] == ("partial", "20.00", "0.00", "13.90")
    assert status(books, "2024-11-15")["A1-202409"] == ("overdue", "20.00", "0.00", "13.90")
    ok(books, "pay", "A1", "13.90", "--date", "2024-11-20", "--ref", "CHQ-2")
    assert status(books, "2024-11-30")["A1-202409"] == ("paid", "33.90", "0.00", "0.00")
    payments = (books.root / "ledger/payments/2024.beancount").read_text()
    assert "^A1-202409\n  payment: \"CHQ-2\"" in payments
    assert ledger_errors(books) == []


def test_overpayment_becomes_credit_applied_to_the_next_invoice(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    out = ok(books, "pay", "A1", "50.00", "--date", "2024-10-05", "--ref", "EFT-9")
    assert "A1-202409: $33.90" in out and "credit on account: $16.10" in out
    aging = json.loads(ok(books, "aging", "--as-of", "2024-10-20", "--json"))
    assert [(c["account"], c["credit"], c["balance"]) for c in aging["clients"]] == [
        ("A1", "16.10", "-16.10"), ("B2", "0.00", "15.75")]
    # the next bill shows the credit it will take; the invoice total itself does not change
    document = json.loads(ok(books, "bill", "2024-10", "--json"))
    october = next(i for i in document["invoices"] if i["account"] == "A1")
    assert (october["total"], october["credit_applied"], october["amount_due"]) == ("33.90", "16.10", "17.80")
    assert "A1-202410: credit applied $16.10, amount due $17.80" in ok(books, "bill", "2024-10")
    ok(books, "finalize", "2024-10", "--at", "2024-11-01T09:00:00Z")
    assert status(books, "2024-11-05")["A1-202410"] == ("partial", "16.10", "0.00", "17.80")


def test_a_bounced_payment_reopens_the_invoice(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    ok(books, "pay", "A1", "33.90", "--date", "2024-10-10", "--ref", "CHQ-77", "--method", "cheque")
    assert status(books, "2024-10-20")["A1-202409"][0] == "paid"
    out = ok(books, "pay", "--reverse", "CHQ-77", "--date", "2024-10-21", "--note", "NSF")
    assert "Reversed payment CHQ-77 as CHQ-77-R; reopened: A1-202409" in out
    assert status(books, "2024-10-20")["A1-202409"][0] == "paid"  # as it was before the bounce
    assert status(books, "2024-10-22")["A1-202409"] == ("open", "0.00", "0.00", "33.90")
    text = (books.root / "ledger/payments/2024.beancount").read_text()
    assert 'payment: "CHQ-77"' in text and 'reverses: "CHQ-77"' in text  # nothing deleted
    again = books.run("pay", "--reverse", "CHQ-77", "--date", "2024-10-22")
    assert again.exit_code == 1 and "payment CHQ-77 is already reversed" in again.output
    assert ledger_errors(books) == []


def test_partial_and_full_credit_notes(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    out = ok(books, "credit", "A1-202409", "--amount", "11.30", "--reason", "One user left in August",
             "--date", "2024-10-12", "--at", "2024-10-12T10:00:00Z")
    assert "Issued credit note CN-A1-202409-1 for $11.30 on A1-202409" in out
    text = (books.root / "ledger/credits/2024.beancount").read_text()
    # 11.30 of 33.90 is one third: users 10.00 and HST 1.30 reversed in proportion
    assert "  Income:Managed:Users                                10.00 CAD" in text
    assert "  Liabilities:Tax:HST                                  1.30 CAD" in text
    assert status(books, "2024-10-15")["A1-202409"] == ("partial", "0.00", "11.30", "22.60")
    too_much = books.run("credit", "A1-202409", "--amount", "30.00", "--reason", "x", "--date", "2024-10-13")
    assert too_much.exit_code == 1 and "more than what is left of A1-202409 (22.60)" in too_much.output
    ok(books, "credit", "A1-202409", "--full", "--reason", "Billed in error", "--date", "2024-10-14",
       "--at", "2024-10-14T10:00:00Z")
    assert status(books, "2024-10-15")["A1-202409"] == ("cancelled", "0.00", "33.90", "0.00")
    # every income and tax account is back at zero for this invoice
    entries, errors, _ = loader.load_file(str(books.root / "ledger/main.beancount"))
    assert errors == []
    totals = {}
    for e in entries:
        if type(e).__name__ == "Transaction" and "A1-202409" in (e.links or ()):
            for p in e.postings:
                totals[p.account] = totals.get(p.account, 0) + p.units.number
    assert all(v == 0 for v in totals.values()), totals
    draft = books.run("credit", "A1-202410", "--amount", "1.00", "--reason", "x", "--date", "2024-11-01")
    assert draft.exit_code == 1 and "A1-202410 is a draft" in draft.output


def test_adjustment_invoice_for_a_missed_charge(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    books.csv("2024-09", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "A1,u9,Missed,,true",
              "B2,u3,Three,,true")
    out = ok(books, "bill", "2024-09")
    assert "A1-202409 is finalized with total 33.90; the inputs now give 50.85" in out
    assert "otb bill 2024-09 --adjust A1" in out
    out = ok(books, "bill", "2024-09", "--adjust", "A1", "--date", "2024-10-20")
    # one more user: 15.00 + 13% HST 1.95 = 16.95
    assert "Adjustment invoice A1-202409-A1 (draft): $15.00 + tax $1.95 = $16.95" in out
    text = (books.root / "ledger/invoices/2024/2024-09.beancount").read_text()
    assert '2024-10-20 ! "Alpha Dental" "Invoice A1-202409-A1 for September 2024" ^A1-202409-A1\n' \
           '  adjusts: "A1-202409"' in text
    ok(books, "bill", "2024-09")  # a normal re-bill keeps the adjustment draft
    assert "A1-202409-A1" in (books.root / "ledger/invoices/2024/2024-09.beancount").read_text()
    ok(books, "finalize", "2024-09", "--at", "2024-10-21T09:00:00Z")
    assert status(books, "2024-10-25")["A1-202409-A1"] == ("open", "0.00", "0.00", "16.95")
    nothing = books.run("bill", "2024-09", "--adjust", "A1", "--date", "2024-10-22")
    assert nothing.exit_code == 1 and "already bills what the inputs give" in nothing.output
    assert ledger_errors(books) == []


def test_a_hand_edit_of_a_finalized_invoice_is_caught_by_bean_check(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    path = books.root / "ledger/invoices/2024/2024-09.beancount"
    text = path.read_text()
    # a "quick fix" that keeps the transaction balanced: 33.90 -> 23.90 and -30.00 -> -20.00
    path.write_text(text.replace("33.90 CAD", "23.90 CAD", 1).replace("-30.00 CAD", "-20.00 CAD", 1))
    bean_check = Path(sys.executable).parent / "bean-check"
    done = subprocess.run([str(bean_check), str(books.root / "ledger/main.beancount")], capture_output=True,
                          text=True)
    assert done.returncode == 1
    assert "2024-09.beancount:" in done.stderr
    assert "finalized invoice A1-202409 was edited by hand" in done.stderr
    refused = books.run("pay", "A1", "10.00", "--date", "2024-10-10")
    assert refused.exit_code == 1 and "the ledger must pass bean-check before it is changed" in refused.output


def test_plugin_reports_duplicates_missing_links_and_over_credit(books):
    extra = books.root / "ledger/payments/2024.beancount"
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_text(
        '2024-10-01 * "Alpha Dental" "Payment X" ^NO-SUCH-INVOICE\n  payment: "X"\n  account: "A1"\n'
        "  Assets:Bank:Operating  10.00 CAD\n  Assets:Receivable:A1  -10.00 CAD\n\n"
        '2024-10-02 * "Alpha Dental" "Copy" ^A1-202409\n  invoice: "A1-202409"\n  account: "A1"\n'
        "  Assets:Receivable:A1  1.00 CAD\n  Income:Managed:Users  -1.00 CAD\n\n"
        '2024-10-03 * "Alpha Dental" "Credit" ^A1-202410 ^CN-A1-202410-1\n  credit_note: "CN-A1-202410-1"\n'
        '  credits: "A1-202410"\n  account: "A1"\n'
        "  Income:Managed:Users  40.00 CAD\n  Assets:Receivable:A1  -40.00 CAD\n")
    main = books.root / "ledger/main.beancount"
    main.write_text(main.read_text().replace("; --- end of files",
                                             'include "payments/2024.beancount"\n; --- end of files'))
    messages = [e.message for e in ledger_errors(books)]
    assert any("payment links invoice NO-SUCH-INVOICE, which does not exist" in m for m in messages)
    assert any(m.startswith("duplicate invoice number A1-202409") for m in messages)
    assert any("credit notes for A1-202410 add up to 40.00, more than the invoice total 33.90" in m for m in messages)


def test_aging_at_several_dates(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    ok(books, "finalize", "2024-10", "--at", "2024-11-01T09:00:00Z")
    ok(books, "pay", "B2", "15.75", "--date", "2024-10-20")

    def buckets(as_of):
        document = json.loads(ok(books, "aging", "--as-of", as_of, "--json"))
        return {c["account"]: {k: v for k, v in c["buckets"].items() if v != "0.00"} for c in document["clients"]}

    # A1: Sep due 2024-10-30, Oct due 2024-11-30 (33.90 each); B2 paid September
    assert buckets("2024-10-15") == {"A1": {"current": "33.90"}, "B2": {"current": "15.75"}}
    assert buckets("2024-11-15") == {"A1": {"1-30": "33.90", "current": "33.90"}, "B2": {"current": "15.75"}}
    assert buckets("2025-01-10") == {"A1": {"61-90": "33.90", "31-60": "33.90"}, "B2": {"31-60": "15.75"}}
    assert buckets("2025-02-20") == {"A1": {"90+": "33.90", "61-90": "33.90"}, "B2": {"61-90": "15.75"}}


BANK = """\
Date,Amount,Details,Bank Ref
2024-10-15,33.90,ONLINE PMT ALPHA DENTAL INV A1-202409,TX-1
2024-10-16,15.75,Beta Law LLP e-transfer,TX-2
2024-10-17,99.00,Mystery deposit,TX-3
2024-10-18,-42.00,Bank fee,TX-4
"""


def test_bank_csv_import_matched_unmatched_and_duplicate_rows(books):
    books.write(
        "settings.yaml",
        (books.root / "settings.yaml").read_text() + "bank:\n  account: Assets:Bank:Chequing\n"
        "  csv: {date: Date, amount: Amount, description: Details, reference: Bank Ref}\n",
    )
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    statement = books.write("bank.csv", BANK)
    before = books.snapshot()
    out = ok(books, "import-payments", str(statement))
    assert "line 2: 2024-10-15 $33.90 from Alpha Dental (A1) by invoice A1-202409: settles A1-202409 $33.90" in out
    assert "line 3: 2024-10-16 $15.75 from Beta Law (B2) by client name or account: settles B2-202409 $15.75" in out
    assert "line 4: UNMATCHED 2024-10-17 $99.00 'Mystery deposit': matches no client" in out
    assert "line 5: skipped 2024-10-18 -$42.00: not a deposit" in out
    assert "2 payment(s) proposed; nothing written" in out
    assert books.snapshot() == before
    assert "Recorded 2 payment(s)." in ok(books, "import-payments", str(statement), "--apply")
    assert status(books, "2024-10-20")["A1-202409"][0] == "paid"
    text = (books.root / "ledger/payments/2024.beancount").read_text()
    assert "Assets:Bank:Chequing 33.90 CAD" in " ".join(text.split())
    out = ok(books, "import-payments", str(statement), "--apply")
    assert "line 2: skipped 2024-10-15 $33.90: already recorded as payment TX-1" in out
    assert "Recorded" not in out
    assert ledger_errors(books) == []


def test_revenue_report_by_month_client_and_category(books):
    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    ok(
        books,
        "credit",
        "A1-202409",
        "--amount",
        "11.30",
        "--reason",
        "x",
        "--date",
        "2024-10-12",
        "--at",
        "2024-10-12T10:00:00Z",
    )
    rows = json.loads(ok(books, "report", "revenue", "--year", "2024", "--json"))
    assert [(r["month"], r["account"], r["category"], r["amount"]) for r in rows] == [
        ("2024-09", "A1", "Managed:Users", "30.00"),
        ("2024-09", "B2", "Managed:Users", "15.00"),
        ("2024-10", "A1", "Managed:Users", "20.00"),  # 30.00 billed - 10.00 credited
        ("2024-10", "B2", "Managed:Users", "15.00"),
    ]
    target = books.root / "revenue.csv"
    ok(books, "report", "revenue", "--csv", str(target))
    assert target.read_text().splitlines()[:2] == [
        "month,account,client,category,amount",
        "2024-09,A1,Alpha Dental,Managed:Users,30.00",
    ]


def test_history_shows_who_changed_what(books):
    def git(*args):
        subprocess.run(["git", "-C", str(books.root), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=Pat", "-c", "user.email=pat@msp.example", "add", "clients")
    git("-c", "user.name=Pat", "-c", "user.email=pat@msp.example", "commit", "-qm", "clients")
    books.client("A1", "rates: {per_user: 12.50}\n", name="Alpha Dental")
    git("-c", "user.name=Sam", "-c", "user.email=sam@msp.example", "commit", "-qam", "Alpha discount")
    out = ok(books, "history", "A1")
    assert "Sam <sam@msp.example>" in out and "Alpha discount" in out
    assert "+ rates: {per_user: 12.50}" in out
    assert out.index("Alpha discount") < out.index("clients\n")
    changes = json.loads(ok(books, "history", "A1", "--json"))
    assert changes[0]["author"] == "Sam <sam@msp.example>" and changes[0]["file"] == "clients/A1.yaml"


def test_statement_status_and_aging_golden_output(example):
    statement = ok_at(example, "statement", "HOST-0042", "--to", "2024-11-15")
    aging = ok_at(example, "aging", "--as-of", "2024-11-15")
    compare(statement, "statement-HOST-0042.txt")
    compare(aging, "aging-2024-11-15.txt")
    for _ in range(2):  # from the full load, then from the book it stored
        compare(ok_at(example, "status", "--as-of", "2024-11-15"), "status-2024-11-15.txt")


def ok_at(root, *args):
    from conftest import run

    result = run(root, *args)
    assert result.exit_code == 0, result.output
    return result.output


def compare(text: str, name: str) -> None:
    import os

    path = GOLDEN / name
    if os.environ.get("OTB_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_the_shipped_example_ledger_is_what_its_script_makes(example, tmp_path):
    script = Path(__file__).resolve().parent.parent / "docs/example-ledger.sh"
    env = {"PATH": "/usr/bin:/bin", "OTB": str(Path(sys.executable).parent / "otb")}
    subprocess.run(["bash", str(script), str(example)], check=True, env=env)
    shipped = Path(__file__).resolve().parent.parent / "ledger"
    files = sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file() and not p.name.startswith("."))
    rebuilt = sorted(
        p.relative_to(example / "ledger")
        for p in (example / "ledger").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert rebuilt == files
    for path in files:  # every ledger file, issued PDFs and their data included, byte for byte
        assert (example / "ledger" / path).read_bytes() == (shipped / path).read_bytes(), path


def test_statement_colours_owing_red_zero_blue_credit_green(books):
    from click.testing import CliRunner

    from otb_billing.cli import main

    ok(books, "finalize", "2024-09", "--at", "2024-10-01T09:00:00Z")
    ok(books, "pay", "A1", "50.00", "--date", "2024-10-05", "--ref", "EFT-1")
    result = CliRunner().invoke(main, ["statement", "A1", "--to", "2024-10-20", "--root", str(books.root)], color=True)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "\x1b[34m$0.00\x1b[0m" in lines[3]  # opening balance: zero, blue
    assert "\x1b[31m$33.90\x1b[0m" in lines[4]  # after the invoice: owing, red
    assert "\x1b[32m-$16.10\x1b[0m" in lines[5]  # after the overpayment: in credit, green
