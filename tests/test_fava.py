"""The example ledger in real Fava: no errors, and the receivables Fava shows are the invoices' totals."""

from __future__ import annotations

import json

from conftest import REPO
from fava.application import create_app


def test_example_ledger_loads_in_fava_with_the_right_balances():
    app = create_app([str(REPO / "ledger" / "main.beancount")])
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 302
    slug = home.headers["Location"].strip("/").split("/")[0]
    assert slug == "outsidethebox-infrastructure-services"
    errors = json.loads(client.get(f"/{slug}/api/errors").data)
    assert errors["data"] == []
    query = "SELECT account, sum(number) AS total WHERE account ~ 'Receivable' GROUP BY account ORDER BY account"
    rows = json.loads(client.get(f"/{slug}/api/query", query_string={"query_string": query}).data)["data"]["rows"]
    balances = {account: f"{total:.2f}" for account, total in rows}
    # Acme by hand: Aug 2882.50 + 13% = 3257.23 (paid), Sep 2978.75 + 13% = 3365.99 (paid by a cheque that
    # bounced, so owed again), Oct 4275.00 + 13% = 4830.75 (draft): 3365.99 + 4830.75 = 8196.74
    assert balances["Assets:Receivable:620547"] == "8196.74"
    # Nakamoto paid everything issued; only the October draft is on its account
    assert balances["Assets:Receivable:HOST-0042"] == "2184.54"
    # Northwind is invoiced in USD: its August and September invoices are paid, October (a draft) is open
    assert balances["Assets:Receivable:NWT-310"] == "1098.50"
    assert set(balances) == {"Assets:Receivable:555123", "Assets:Receivable:620547", "Assets:Receivable:987654",
                             "Assets:Receivable:HOST-0042", "Assets:Receivable:NWT-310"}
    ledger_data = json.loads(client.get(f"/{slug}/api/ledger_data").data)["data"]
    assert [q["name"] for q in ledger_data["user_queries"]][:3] == [
        "Outstanding invoices", "AR aging by due month", "Receivables by client"]
    for page in ("income_statement", "balance_sheet", "journal", "query"):
        assert client.get(f"/{slug}/{page}/").status_code == 200


def test_the_fast_scan_reads_the_same_records_as_the_full_load():
    from otb_billing.books.extract import load_books, scan_books

    full, fast = load_books(REPO / "ledger"), scan_books(REPO / "ledger")
    assert full.problems == [] and fast.problems == []
    assert (fast.docs, fast.payments, fast.credits, fast.names) == (full.docs, full.payments, full.credits,
                                                                    full.names)
    assert len(fast.docs) == 15 and len(fast.payments) == 10 and len(fast.credits) == 1


def test_the_invoices_page_in_fava_shows_derived_statuses_and_aging():
    app = create_app([str(REPO / "ledger" / "main.beancount")])
    client = app.test_client()
    page = client.get("/outsidethebox-infrastructure-services/extension/Invoices/?as_of=2024-11-15")
    assert page.status_code == 200
    html = " ".join(page.data.decode().split())
    assert "Invoices on 2024-11-15" in html
    # the bounced cheque left Acme's September invoice overdue; Northwind (USD) paid in full
    assert ('620547-202409</a></td> <td>Acme Corporation</td><td>2024-09-30</td><td>2024-10-30</td> '
            '<td class="otb-overdue">overdue</td>') in html
    assert "<td>987654</td><td>Wayne Enterprises</td>" in html and "$2,903.11" in html
    assert 'class="otb-paid">paid</td> <td class="num">US$1,370.77</td>' in html
