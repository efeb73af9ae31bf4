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


SLUG = "/outsidethebox-infrastructure-services"


def component_json(html: str, kind: str) -> list:
    """The JSON of every <svelte-component type=KIND> in a page, in order."""
    import re

    pattern = rf'<svelte-component type="{kind}"><script type="application/json">(.*?)</script></svelte-component>'
    return [json.loads(match) for match in re.findall(pattern, html, re.S)]


def page(client, path: str) -> str:
    response = client.get(SLUG + path)
    assert response.status_code == 200, response.status_code
    return " ".join(response.data.decode().split())


def test_the_invoices_page_in_fava_shows_derived_statuses_and_aging():
    client = create_app([str(REPO / "ledger" / "main.beancount")]).test_client()
    html = page(client, "/extension/Invoices/?as_of=2024-11-15")
    assert "Invoices on 2024-11-15" in html
    [table] = component_json(html, "query-table")
    assert [t["name"] for t in table["types"]] == ["Invoice", "Client", "Date", "Due", "Status", "Total", "Paid",
                                                   "Credited", "Balance", "Days late"]
    rows = {row[0]: row for row in table["rows"]}
    assert len(rows) == 15
    # the bounced cheque left Acme's September invoice overdue; Northwind (USD) paid in full
    assert rows["620547-202409"][4:6] == ["overdue", {"number": 3365.99, "currency": "CAD"}]
    assert rows["620547-202409"][9] == 16
    assert rows["NWT-310-202409"][4] == "paid" and rows["NWT-310-202409"][5]["currency"] == "USD"
    # aging with a total row: 1,203.30 + 3,365.99 + 2,903.11
    assert "<td>987654</a></td><td>Wayne Enterprises</td>" in html.replace(
        '<a href="' + SLUG + '/account/Assets:Receivable:987654/">', "<td>"
    )
    assert (
        '<td>Total</td><td class="num">$0.00</td><td class="num">$4,569.29</td><td class="num">$2,903.11</td>' in html
        and '<td class="num">$7,472.40</td>' in html
    )


def test_fava_filters_change_what_the_invoices_page_shows():
    client = create_app([str(REPO / "ledger" / "main.beancount")]).test_client()
    acme = page(client, "/extension/Invoices/?as_of=2024-11-15&account=Assets:Receivable:620547")
    assert {row[0] for row in component_json(acme, "query-table")[0]["rows"]} == {
        "620547-202408",
        "620547-202409",
        "620547-202410",
    }
    assert "<td>Total</td>" in acme and "$3,365.99" in acme and "$7,472.40" not in acme
    september = page(client, "/extension/Invoices/?time=2024-09")
    assert "Invoices on 2024-09-30" in september  # the end of the time filter is the date asked about
    rows = component_json(september, "query-table")[0]["rows"]
    assert len(rows) == 5 and {row[0][-6:] for row in rows} == {"202409"}
    assert {row[4] for row in rows} == {
        "open",
        "partial",
    }  # Nakamoto's August overpayment went to its September invoice
    tagged = page(client, "/extension/Invoices/?as_of=2024-11-15&filter=%5E987654-202409")
    assert [row[0] for row in component_json(tagged, "query-table")[0]["rows"]] == ["987654-202409"]


def test_a_date_the_invoices_page_cannot_read_is_said_so():
    client = create_app([str(REPO / "ledger" / "main.beancount")]).test_client()
    html = page(client, "/extension/Invoices/?as_of=2024-13-45&time=2024-10")
    assert (
        '<p class="otb-error" role="alert">&#39;2024-13-45&#39; is not a date (write it as YYYY-MM-DD): showing '
        "2024-10-31 instead.</p>"
    ) in html


def test_the_billing_page_charts_revenue_receivables_and_more(example):
    from conftest import run

    assert run(example, "bill", "2024-10").exit_code == 0  # leaves build/2024-10/bill-report.json
    client = create_app([str(example / "ledger" / "main.beancount")]).test_client()
    html = page(client, "/extension/Billing/?as_of=2024-11-15&top=3")
    revenue, receivables = component_json(html, "charts")
    bars = {point["date"]: point for point in revenue[0]["data"]}
    assert sorted(bars) == ["2024-08-01", "2024-09-01", "2024-10-01"]
    # October: the five invoices' income in CAD (Northwind at its rate), drafts included: 13,311.70
    assert bars["2024-10-01"]["balance"] == {"CAD": 13311.7}
    assert bars["2024-10-01"]["account_balances"]["Managed"] == {"CAD": 5255.6}
    owed = {point["date"]: point["balance"]["CAD"] for point in receivables[0]["data"]}
    assert owed["2024-10-01"] == 7472.4  # at 31 October: the September invoices still owed
    dso, top, changes, pools = component_json(html, "query-table")
    assert [row[0] for row in top["rows"]] == ["Acme Corporation", "Wayne Enterprises", "Nakamoto Labs LLC"]
    assert {row[0]: row[3] for row in changes["rows"]} == {
        "Stark Industries": "+67.9%",
        "Acme Corporation": "+43.5%",
        "Nakamoto Labs LLC": "+29.3%",
    }
    assert pools["rows"] == [["Wayne Enterprises", "987654", 2024, 20.0, 20.0, 0.0]]
    october = next(row for row in dso["rows"] if row[0] == "2024-10")
    assert october[1] == {"number": 5620.51, "currency": "CAD"}  # managed services 5,255.60 + backup 364.91
    assert october[4] is not None
    assert "2 row(s) for account &#39;999999&#39;, which has no client file: not billed" in html
