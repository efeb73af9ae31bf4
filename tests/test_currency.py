"""Clients invoiced in another currency (USD) with books in CAD: conversion, tax, payments with FX, zero ends.

Client U1 (Ontario, USD) has 2 users on a plan at 15.00 CAD each and a 100.00 USD line item.
At 1.2500 CAD per USD: 15.00 / 1.25 = 12.00 USD per user -> 24.00 + 100.00 = 124.00, fee 2% = 2.48,
subtotal 126.48, HST 13% = 16.4424 -> 16.44, total 142.92 USD = 178.65 CAD.
"""

from __future__ import annotations

import json

import pytest
from beancount import loader
from beancount.core import convert, inventory
from conftest import ok

USERS = "account,user_id,name,email,active"


@pytest.fixture
def usd(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text() + "conversion_fee_pct: 2\n")
    repo.client("U1", "currency: USD\nline_items:\n  - {name: Hosting, monthly: 100.00}\n", name="Union Co")
    repo.csv("2024-10", "users.csv", USERS, "U1,u1,One,,true", "U1,u2,Two,,true")
    assert repo.run("fx", "set", "USD", "1.2500", "--date", "2024-10-31").exit_code == 0
    return repo



def balances(repo):
    """Units and cost (book value) of the accounts that matter, from the whole ledger as Beancount books it."""
    entries, errors, _ = loader.load_file(str(repo.root / "ledger/main.beancount"))
    assert errors == []
    out = {}
    for account in ("Assets:Receivable:U1", "Income:FX", "Assets:Bank:USD"):
        held = inventory.Inventory()
        for entry in entries:
            for posting in getattr(entry, "postings", ()):
                if posting.account == account:
                    held.add_position(posting)
        out[account] = (str(held.reduce(convert.get_units)), str(held.reduce(convert.get_cost)))
    return out


def test_a_usd_invoice_converts_plan_prices_and_shows_tax_in_both_currencies(usd):
    invoice = usd.invoice()
    assert invoice["currency"] == "USD"
    assert [(ln["description"], ln["rate"], ln["amount"]) for ln in invoice["lines"]] == [
        ("User: One", "12.00", "12.00"), ("User: Two", "12.00", "12.00"),
        ("Hosting", "100.00", "100.00"),  # written in the client file: already USD
        ("Currency conversion fee (2%)", "2.48", "2.48"),
    ]
    assert (invoice["subtotal"], invoice["total"], invoice["fx_rate"], invoice["total_base"]) == (
        "126.48", "142.92", "1.2500", "178.65")
    assert invoice["taxes"] == [{"name": "HST", "rate": "13", "base": "126.48", "amount": "16.44",
                                 "amount_base": "20.55"}]
    ok(usd, "bill", "2024-10")
    text = (usd.root / "ledger/invoices/2024/2024-10.beancount").read_text()
    assert 'Assets:Receivable:U1                               142.92 USD {1.2500 CAD, 2024-10-31, "U1-202410"}' in text
    assert "  Liabilities:Tax:HST                                -20.55 CAD\n    invoice_amount: \"16.44 USD\"" in text


def test_missing_or_stale_rate_is_an_error_naming_currency_and_date(usd):
    usd.write("ledger/prices.beancount", "2024-10-20 price USD 1.2500 CAD\n")
    result = usd.run("bill", "2024-10")
    assert result.exit_code == 1
    assert ("clients/U1.yaml: Union Co is invoiced in USD: the latest USD rate is from 2024-10-20, more than 7 "
            "days before 2024-10-31 (add it: otb fx set USD RATE --date 2024-10-31)") in result.output
    (usd.root / "ledger/prices.beancount").write_text("")
    result = usd.run("bill", "2024-10")
    assert "no USD rate on or before 2024-10-31 in ledger/prices.beancount" in result.output


def test_paid_at_another_rate_books_the_fx_difference_and_ends_at_zero(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    out = ok(usd, "pay", "U1", "142.92", "--date", "2024-11-20", "--rate", "1.3000", "--ref", "W1")
    assert "U1-202410: US$142.92" in out
    # 142.92 x (1.30 - 1.25) = 7.146 -> a realized gain of 7.15 CAD
    assert balances(usd) == {
        "Assets:Receivable:U1": ("()", "()"),
        "Income:FX": ("(-7.15 CAD)", "(-7.15 CAD)"),
        "Assets:Bank:USD": ("(142.92 USD)", "(142.92 USD)"),
    }
    status = json.loads(ok(usd, "status", "--as-of", "2024-11-21", "--json"))["invoices"][0]
    assert (status["status"], status["currency"], status["balance"]) == ("paid", "USD", "0.00")


def test_a_usd_credit_note_uses_the_invoice_rate_and_the_rest_is_paid_at_a_loss(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    out = ok(usd, "credit", "U1-202410", "--amount", "42.92", "--reason", "goodwill", "--date", "2024-11-05",
             "--at", "2024-11-05T00:00:00Z")
    assert "for US$42.92" in out
    usd.run("fx", "set", "USD", "1.2000", "--date", "2024-11-20")
    ok(usd, "pay", "U1", "100.00", "--date", "2024-11-20")  # rate from prices: 1.2000
    # 100.00 x (1.20 - 1.25) = -5.00: a loss
    assert balances(usd)["Income:FX"] == ("(5.00 CAD)", "(5.00 CAD)")
    assert balances(usd)["Assets:Receivable:U1"] == ("()", "()")


def test_a_reversed_usd_payment_reopens_the_invoice_and_undoes_the_fx(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    ok(usd, "pay", "U1", "142.92", "--date", "2024-11-20", "--rate", "1.3000", "--ref", "W1")
    ok(usd, "pay", "--reverse", "W1", "--date", "2024-11-22")
    assert balances(usd) == {
        "Assets:Receivable:U1": ("(142.92 USD)", "(178.650000 CAD)"),  # 142.92 x 1.2500, owed again
        "Income:FX": ("()", "()"),
        "Assets:Bank:USD": ("()", "()"),
    }


def test_a_usd_overpayment_is_credit_used_by_the_next_invoice_and_everything_ends_at_zero(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    out = ok(usd, "pay", "U1", "150.00", "--date", "2024-11-20", "--rate", "1.3000", "--ref", "W1")
    assert "U1-202410: US$142.92" in out and "credit on account: US$7.08" in out
    aging = json.loads(ok(usd, "aging", "--as-of", "2024-11-21", "--json"))["clients"]
    assert [(c["account"], c["currency"], c["credit"]) for c in aging] == [("U1", "USD", "7.08")]
    # November: the same bill at 1.2000 CAD per USD -> 12.50 per user, 25.00 + 100.00 + fee 2.50 = 127.50,
    # HST 16.58, total 144.08 USD; 7.08 of it comes from the credit
    usd.csv("2024-11", "users.csv", USERS, "U1,u1,One,,true", "U1,u2,Two,,true")
    ok(usd, "fx", "set", "USD", "1.2000", "--date", "2024-11-30")
    november = json.loads(ok(usd, "bill", "2024-11", "--json"))["invoices"][0]
    assert (november["total"], november["credit_applied"], november["amount_due"]) == ("144.08", "7.08", "137.00")
    # said in the invoice's currency, not as dollars of the books
    assert "U1-202411: credit applied US$7.08, amount due US$137.00" in ok(usd, "bill", "2024-11")
    ok(usd, "finalize", "2024-11", "--at", "2024-12-01T00:00:00Z")
    text = (usd.root / "ledger/payments/2024.beancount").read_text()
    assert 'Credit on account applied to U1-202411" ^U1-202411' in text
    ok(usd, "pay", "U1", "137.00", "--date", "2024-12-15", "--rate", "1.1000", "--ref", "W2")
    status = json.loads(ok(usd, "status", "--as-of", "2024-12-16", "--json"))["invoices"]
    assert [(i["invoice"], i["status"], i["balance"]) for i in status] == [
        ("U1-202410", "paid", "0.00"), ("U1-202411", "paid", "0.00")]
    entries, errors, _ = loader.load_file(str(usd.root / "ledger/main.beancount"))
    assert errors == []
    held = {}
    for entry in entries:
        for posting in getattr(entry, "postings", ()):
            held.setdefault(posting.account, inventory.Inventory()).add_position(posting)
    assert str(held["Assets:Receivable:U1"].reduce(convert.get_cost)) == "()"
    assert str(held["Liabilities:Deposits:U1"].reduce(convert.get_cost)) == "()"
    # FX by hand: W1 142.92 x (1.30 - 1.25) = +7.15; the 7.08 credit in at 1.30, used on a 1.20 lot: +0.71;
    # W2 137.00 x (1.10 - 1.20) = -13.70. Income:FX holds the opposite sign of a gain.
    assert str(held["Income:FX"].reduce(convert.get_units)) == "(5.84 CAD)"
    assert str(held["Assets:Bank:USD"].reduce(convert.get_units)) == "(287.00 USD)"


def test_a_usd_overpayment_whose_credit_was_used_cannot_be_reversed_silently(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    ok(usd, "pay", "U1", "150.00", "--date", "2024-11-20", "--rate", "1.3000", "--ref", "W1")
    usd.csv("2024-11", "users.csv", USERS, "U1,u1,One,,true")
    ok(usd, "fx", "set", "USD", "1.2000", "--date", "2024-11-30")
    ok(usd, "bill", "2024-11")
    ok(usd, "finalize", "2024-11", "--at", "2024-12-01T00:00:00Z")
    result = usd.run("pay", "--reverse", "W1", "--date", "2024-12-02")
    assert result.exit_code == 1
    assert "the credit on account from payment W1 has already been applied to a later invoice" in result.output


def test_fx_set_replaces_a_rate_and_fx_import_reads_a_csv(usd):
    ok(usd, "fx", "set", "USD", "1.2600", "--date", "2024-10-31")
    rates = usd.write("rates.csv", "date,currency,rate\n2024-10-30,USD,1.2400\n2024-10-30,EUR,1.4800\n")
    assert "Set 2 rate(s)" in ok(usd, "fx", "import", str(rates))
    text = (usd.root / "ledger/prices.beancount").read_text()
    assert text.splitlines()[3:] == ["2024-10-30 price EUR 1.4800 CAD", "2024-10-30 price USD 1.2400 CAD",
                                     "2024-10-31 price USD 1.2600 CAD"]
    assert usd.invoice()["fx_rate"] == "1.2600"
    bad = usd.run("fx", "set", "CAD", "1", "--date", "2024-10-31")
    assert bad.exit_code == 1 and "'CAD' is not a foreign currency code" in bad.output


def test_a_usd_adjustment_invoice_bills_the_difference_at_its_own_dates_rate(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    usd.csv("2024-10", "users.csv", USERS, "U1,u1,One,,true", "U1,u2,Two,,true", "U1,u3,Three,,true")
    missing = usd.run("bill", "2024-10", "--adjust", "U1", "--date", "2024-11-10")
    # Oct 31 is 10 days old
    assert missing.exit_code == 1 and "no USD rate on or before 2024-11-10" not in missing.output
    assert "the latest USD rate is from 2024-10-31, more than 7 days before 2024-11-10" in missing.output
    ok(usd, "fx", "set", "USD", "1.3000", "--date", "2024-11-10")
    out = ok(usd, "bill", "2024-10", "--adjust", "U1", "--date", "2024-11-10")
    # one more user at 12.00 USD (the October price), fee 2% 0.24, HST 13% of 12.24 = 1.59: 13.83 USD
    assert "Adjustment invoice U1-202410-A1 (draft): US$12.24 + tax US$1.59 = US$13.83" in out
    text = (usd.root / "ledger/invoices/2024/2024-10.beancount").read_text()
    assert (
        'Assets:Receivable:U1                                13.83 USD {1.3000 CAD, 2024-11-10, "U1-202410-A1"}' in text
    )
    ok(usd, "finalize", "2024-10", "--at", "2024-11-11T00:00:00Z")
    pdf = usd.root / "ledger/documents/2024/U1-202410-A1.pdf"
    assert pdf.exists()
    ok(usd, "pay", "U1", "13.83", "--date", "2024-11-12", "--rate", "1.3000", "--invoice", "U1-202410-A1")
    assert balances(usd)["Assets:Receivable:U1"][1] == "(178.650000 CAD)"  # only the October invoice is open


def test_a_usd_bank_statement_is_imported_at_the_days_rate(usd):
    ok(usd, "bill", "2024-10")
    ok(usd, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    ok(usd, "fx", "set", "USD", "1.3000", "--date", "2024-11-19")
    statement = usd.write(
        "usd.csv",
        "date,amount,description,reference\n"
        "2024-11-20,142.92,WIRE UNION CO U1-202410,FT-1\n"
        "2024-11-21,10.00,Someone else,FT-2\n",
    )
    cad = usd.run("import-payments", str(statement))
    assert "Union Co is invoiced in USD, this statement is in CAD" in cad.output
    out = ok(usd, "import-payments", str(statement), "--currency", "USD", "--apply")
    assert "line 2: 2024-11-20 US$142.92 from Union Co (U1) by invoice U1-202410: settles U1-202410 US$142.92" in out
    assert "line 3: UNMATCHED 2024-11-21 US$10.00 'Someone else': matches no client" in out
    # booked like `otb pay` at the rate of 2024-11-19: a 7.15 CAD gain
    assert balances(usd)["Income:FX"] == ("(-7.15 CAD)", "(-7.15 CAD)")
    assert balances(usd)["Assets:Receivable:U1"] == ("()", "()")
