"""Pricing over time: rates that change from a month, discounts, and daily proration; amounts by hand.

The Gold plan's "1 Year" term: user 15.00, workstation 75.00, hour 150.00; client A1 in Ontario (HST 13%).
"""

from __future__ import annotations

from conftest import GOLD, ok

USERS = "account,user_id,name,email,active"
ASSETS = "account,asset_id,hostname,type,backup_tb"
TICKETS = "account,ticket,subject,date,hours"


def lines(repo, month: str) -> list[tuple[str, str, str, str]]:
    invoice = repo.invoice(month)
    return [(ln["description"], ln["quantity"], ln["rate"], ln["amount"]) for ln in invoice["lines"]]


def totals(repo, month: str) -> tuple[str, str, str]:
    invoice = repo.invoice(month)
    return invoice["subtotal"], invoice["tax"], invoice["total"]


def test_plan_and_client_rates_change_from_a_month(repo):
    rates = GOLD.split('  "1 Year":\n')[1]
    repo.write("plans/gold.yaml", GOLD.split('  "1 Year":\n')[0] + '  "1 Year":\n    - ' +
               rates.strip().replace("\n    ", "\n      ") + "\n    - {from: 2024-11, per_user: 16.00}\n")
    repo.client("A1")
    for month in ("2024-10", "2024-11", "2024-12"):
        repo.users(month, "A1", 2)
    assert totals(repo, "2024-10") == ("30.00", "3.90", "33.90")  # 2 x 15.00
    assert totals(repo, "2024-11") == ("32.00", "4.16", "36.16")  # 2 x 16.00 from November
    repo.client("A1", "rates:\n  - {per_user: 14.00}\n  - {from: 2024-12-01, per_user: 13.00}\n")
    assert [ln[2] for ln in lines(repo, "2024-10")] == ["14.00", "14.00"]  # the client's price wins
    assert [ln[2] for ln in lines(repo, "2024-11")] == ["14.00", "14.00"]
    assert [ln[2] for ln in lines(repo, "2024-12")] == ["13.00", "13.00"]


def test_a_finalized_month_keeps_the_prices_it_was_issued_at(repo):
    repo.client("A1")
    repo.users("2024-10", "A1", 2)
    ok(repo, "bill", "2024-10")
    ok(repo, "finalize", "2024-10", "--at", "2024-11-01T00:00:00Z")
    repo.client("A1", "rates:\n  - {per_user: 15.00}\n  - {from: 2024-10, per_user: 18.00}\n")
    out = ok(repo, "bill", "2024-10")
    assert "--adjust" not in out and "credit the difference" not in out
    assert "Finalized invoices kept as they are: A1-202410" in out


def test_discounts_are_lines_of_their_own_and_lower_the_tax(repo):
    repo.client("A1", "line_items:\n  - {service: DOMAIN, quantity: 1}\n"
                      "discounts:\n  - {name: Loyalty, percent: 10, on: [users]}\n"
                      "  - {name: Welcome, amount: 50.00, from: 2024-10, until: 2024-10}\n")
    for month in ("2024-10", "2024-11"):
        repo.users(month, "A1", 2)
        repo.csv(month, "assets.csv", ASSETS, "A1,d1,PC1,workstation,")
    # users 30.00, workstation 75.00, domain 20.00 (not taxable); 10% off users: 3.00; 50.00 off the invoice,
    # split in proportion: 50 x 105/125 = 42.00 off taxable lines, 8.00 off the domain
    assert lines(repo, "2024-10")[-3:] == [
        ("Loyalty: 10% off users", "1", "-3.00", "-3.00"),
        ("Welcome: off the invoice", "1", "-42.00", "-42.00"),
        ("Welcome: off the invoice", "1", "-8.00", "-8.00")]
    # subtotal 125.00 - 53.00 = 72.00; taxable 105.00 - 45.00 = 60.00, HST 7.80
    assert totals(repo, "2024-10") == ("72.00", "7.80", "79.80")
    # November: only the loyalty discount; taxable 102.00, HST 13.26
    assert totals(repo, "2024-11") == ("122.00", "13.26", "135.26")
    ok(repo, "bill", "2024-10")
    text = " ".join((repo.root / "ledger/invoices/2024/2024-10.beancount").read_text().split())
    assert "Income:Discounts 53.00 CAD" in text


def test_a_contract_starting_mid_month_is_charged_by_the_day(repo):
    repo.client("A1", "start: 2024-10-15\nend: 2024-11-10\nproration: daily\n"
                      "line_items:\n  - {name: Hosting, monthly: 100.00}\n")
    repo.users("2024-10", "A1", 2)
    repo.csv("2024-10", "assets.csv", ASSETS, "A1,d1,PC1,workstation,")
    repo.csv("2024-10", "tickets.csv", TICKETS, "A1,T1,Setup,2024-10-20,2")
    # 15 to 31 October: 17 of 31 days. Users 30.00 -> 16.45 (13.55 off); workstation 75.00 -> 41.13 (33.87 off);
    # hosting 100.00 -> 54.84 (45.16 off); the 2 support hours (300.00) are what they are.
    assert lines(repo, "2024-10")[-3:] == [
        ("Users: 17 of 31 days (contract from 2024-10-15)", "1", "-13.55", "-13.55"),
        ("Workstations: 17 of 31 days (contract from 2024-10-15)", "1", "-33.87", "-33.87"),
        ("Hosting: 17 of 31 days (contract from 2024-10-15)", "1", "-45.16", "-45.16")]
    # 505.00 - 92.58 = 412.42; HST 53.6146 -> 53.61
    assert totals(repo, "2024-10") == ("412.42", "53.61", "466.03")
    repo.users("2024-11", "A1", 2)
    # 1 to 10 November: 10 of 30 days. Users 30.00 -> 10.00; hosting 100.00 -> 33.33
    assert totals(repo, "2024-11") == ("43.33", "5.63", "48.96")
    assert lines(repo, "2024-11")[-1] == ("Hosting: 10 of 30 days (contract to 2024-11-10)", "1", "-66.67", "-66.67")


def test_without_proration_a_mid_month_start_pays_the_whole_month(repo):
    repo.client("A1", "start: 2024-10-15\n")
    repo.users("2024-10", "A1", 2)
    assert totals(repo, "2024-10") == ("30.00", "3.90", "33.90")
    repo.write("plans/gold.yaml", GOLD.replace("support_level: hourly", "support_level: hourly\nproration: daily"))
    assert totals(repo, "2024-10") == ("16.45", "2.14", "18.59")  # the plan opts in: 17 of 31 days


def test_a_payment_of_exactly_one_invoice_settles_that_invoice(repo):
    repo.client("A1")
    repo.users("2024-09", "A1", 2)  # 33.90
    repo.users("2024-10", "A1", 3)  # 3 x 15.00 + 13% = 50.85
    for month in ("2024-09", "2024-10"):
        ok(repo, "bill", month)
        ok(repo, "finalize", month, "--at", f"{month}-28T00:00:00Z")
    out = ok(repo, "pay", "A1", "50.85", "--date", "2024-11-05", "--method", "interac")
    assert "A1-202410: $50.85" in out and "A1-202409" not in out
    out = ok(repo, "pay", "A1", "20.00", "--date", "2024-11-06", "--method", "wire")
    assert "A1-202409: $20.00" in out  # no exact match: the oldest open invoice
    text = (repo.root / "ledger/payments/2024.beancount").read_text()
    assert 'method: "interac"' in text and 'method: "wire"' in text
