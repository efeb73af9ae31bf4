"""One hand-computed test per billing rule, driven through `otb bill --json`."""

from __future__ import annotations

import pytest

USERS_HEADER = "account,user_id,name,email,active"
ASSETS_HEADER = "account,asset_id,hostname,type,backup_tb"
TICKETS_HEADER = "account,ticket,subject,date,hours,billable"


def amounts(invoice: dict, category: str) -> list[tuple[str, str, str, str]]:
    return [
        (ln["description"], ln["quantity"], ln["rate"], ln["amount"])
        for ln in invoice["lines"]
        if ln["category"] == category
    ]


def test_user_overrides_inactive_and_manual_users(repo):
    repo.client(
        "A1",
        """
        users:
          "u2": free
          "u3": {type: custom, rate: 10.00}
        manual_users:
          - {name: Jane Contractor, type: paid}
          - {name: Board Member, type: custom, rate: 7.50}
    """,
    )
    repo.csv(
        "2024-10",
        "users.csv",
        USERS_HEADER,
        "A1,u1,Ann Paid,,true",
        "A1,u2,Bob Free,,yes",
        "A1,u3,Cat Custom,,1",
        "A1,u4,Dan Gone,,false",
        "A1,u5,Eve Default,,",
    )
    inv = repo.invoice()
    assert amounts(inv, "users") == [
        ("User: Ann Paid", "1", "15.00", "15.00"),
        ("User: Bob Free (free)", "1", "0.00", "0.00"),
        ("User: Cat Custom (custom rate)", "1", "10.00", "10.00"),
        ("User: Eve Default", "1", "15.00", "15.00"),
        ("User: Jane Contractor (manual)", "1", "15.00", "15.00"),
        ("User: Board Member (custom rate, manual)", "1", "7.50", "7.50"),
    ]
    # 15 + 0 + 10 + 15 + 15 + 7.50; Dan (inactive) is not billed
    assert inv["totals"]["users"] == "62.50"
    assert inv["counts"]["users"] == 6


def test_asset_overrides_aliases_and_manual_assets(repo):
    repo.client(
        "A1",
        """
        assets:
          "d1": server
          "d2": {type: custom, rate: 50.00}
          "d3": no_charge
        manual_assets:
          - {hostname: BYOD-01, type: workstation, notes: not in RMM}
    """,
    )
    repo.csv(
        "2024-10",
        "assets.csv",
        ASSETS_HEADER,
        "A1,d1,BIG-PC,Workstation,",
        "A1,d2,KIOSK,workstation,",
        "A1,d3,HOME-PC,workstation,0.5",
        "A1,d4,LAPTOP-1,LAPTOP,",
        "A1,d5,FW,Firewall,",
        "A1,d6,SW,switch,",
        "A1,d7,SQL,VM,",
    )
    inv = repo.invoice()
    rows = [(ln["category"], ln["description"], ln["amount"]) for ln in inv["lines"]]
    assert rows == [
        ("workstations", "Workstation: BYOD-01 (manual)", "75.00"),
        ("workstations", "Workstation: LAPTOP-1", "75.00"),
        ("servers", "Server: BIG-PC (exported as Workstation)", "125.00"),
        ("vms", "VM: SQL", "50.00"),
        ("switches", "Switch: SW", "100.00"),
        ("firewalls", "Firewall: FW", "150.00"),
        ("devices", "Device: KIOSK (custom rate)", "50.00"),
    ]
    # HOME-PC is no_charge: not billed, and its 0.5 TB is not backed up either
    assert inv["totals"] == {
        "users": "0.00",
        "assets": "625.00",
        "backup": "0.00",
        "tickets": "0.00",
        "line_items": "0.00",
    }
    assert inv["counts"]["workstations"] == 2 and inv["counts"]["servers"] == 1


def test_backup_base_fees_overage_and_half_up_rounding(repo):
    repo.client("A1")
    # 1.1234 TB in all, 1.0 included: 0.1234 TB x 25.00 = 3.085 -> 3.09 (half-up)
    repo.csv(
        "2024-10",
        "assets.csv",
        ASSETS_HEADER,
        "A1,d1,WS1,workstation,0.5",
        "A1,d2,WS2,workstation,0",
        "A1,d3,SRV,server,0.3",
        "A1,d4,VM1,vm,0.3234",
        "A1,d5,FW,firewall,",
    )
    inv = repo.invoice()
    assert amounts(inv, "backup") == [
        ("Backup base fee: workstations", "1", "5.00", "5.00"),
        ("Backup base fee: servers and VMs", "2", "10.00", "20.00"),
        ("Backup storage: 1.1234 TB used, 1 TB included, 0.1234 TB over", "0.1234", "25.00", "3.09"),
    ]
    assert inv["totals"]["backup"] == "28.09"
    assert inv["counts"]["backup_tb"] == "1.1234"


def test_backup_included_per_device(repo):
    repo.client("A1", "rates: {backup_included_tb: 0.5, backup_included_per_device: true}\n")
    # 3 backed-up devices x 0.5 = 1.5 TB included; 2.0 used; 0.5 over x 25 = 12.50
    repo.csv(
        "2024-10",
        "assets.csv",
        ASSETS_HEADER,
        "A1,d1,WS1,workstation,0.5",
        "A1,d2,WS2,workstation,0.5",
        "A1,d3,SRV,server,1.0",
    )
    inv = repo.invoice()
    assert amounts(inv, "backup")[-1] == (
        "Backup storage: 2 TB used, 1.5 TB included, 0.5 TB over",
        "0.5",
        "25.00",
        "12.50",
    )
    assert inv["totals"]["backup"] == "32.50"  # 2 x 5 + 1 x 10 + 12.50


def test_support_hours_time_zones_and_non_billable(repo):
    repo.client("A1")
    repo.csv(
        "2024-10",
        "tickets.csv",
        TICKETS_HEADER,
        "A1,T1,Start of month,2024-10-01T00:00:00-04:00,1.25,true",
        "A1,T2,Last second,2024-10-31T23:59:59-04:00,2,true",
        "A1,T3,UTC next day is still October in Toronto,2024-11-01T03:30:00Z,0.75,true",
        "A1,T3,Same ticket,2024-10-20,1,",
        "A1,T4,Internal,2024-10-10,4,false",
    )
    inv = repo.invoice()
    # billable 1.25 + 2 + 0.75 + 1 = 5 h x 150 = 750.00; 4 non-billable hours reported only
    assert amounts(inv, "support") == [("Support hours: 5 h worked", "5", "150.00", "750.00")]
    assert inv["counts"]["hours"] == "9" and inv["counts"]["billable_hours"] == "5"


def test_a_time_row_outside_the_month_is_an_error(repo):
    repo.client("A1")
    repo.csv(
        "2024-10",
        "tickets.csv",
        TICKETS_HEADER,
        "A1,T1,ok,2024-10-05,1,true",
        "A1,T2,November in Toronto,2024-11-01T04:00:00Z,1,true",
        "A1,T3,September,2024-09-30,1,true",
    )
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 1
    assert (
        "exports/2024-10/tickets.csv:3: time entry dated 2024-11-01 (America/Toronto) is outside 2024-10"
        in result.output
    )
    assert "exports/2024-10/tickets.csv:4: time entry dated 2024-09-30" in result.output
    assert "move it to exports/2024-11/tickets.csv" in result.output


def test_flat_support_reports_hours_without_charging(repo):
    repo.client("A1", "support_level: flat\n")
    repo.users("2024-10", "A1", 1)
    repo.csv("2024-10", "tickets.csv", TICKETS_HEADER, "A1,T1,Fix,2024-10-05,3.5,true")
    inv = repo.invoice()
    assert inv["support_level"] == "flat"
    assert amounts(inv, "support") == []
    assert inv["counts"]["billable_hours"] == "3.5" and inv["counts"]["prepaid_hours_used"] == "0"
    assert inv["subtotal"] == "15.00"


def test_prepaid_monthly_then_yearly_pool_across_months(repo):
    repo.client("A1", "prepaid_hours: {monthly: 2, yearly: 5}\n")
    repo.csv("2024-09", "tickets.csv", TICKETS_HEADER, "A1,T1,Sept work,2024-09-10,6,true")
    repo.csv("2024-10", "tickets.csv", TICKETS_HEADER, "A1,T2,Oct work,2024-10-10,4.5,true")
    # September: 2 monthly + 4 from the pool of 5, 0 charged
    sept = repo.invoice("2024-09")
    assert amounts(sept, "support") == [
        (
            "Support hours: 6 h worked, 2 h from the monthly prepaid hours, 4 h from the yearly pool (1 h left)",
            "0",
            "150.00",
            "0.00",
        )
    ]
    assert repo.run("bill", "2024-09").exit_code == 0  # recorded in the ledger
    # October: 2 monthly + the last 1 h of the pool, 1.5 h x 150 = 225.00
    oct_ = repo.invoice("2024-10")
    assert amounts(oct_, "support") == [
        (
            "Support hours: 4.5 h worked, 2 h from the monthly prepaid hours, 1 h from the yearly pool (0 h left)",
            "1.5",
            "150.00",
            "225.00",
        )
    ]
    assert oct_["counts"]["prepaid_hours_used"] == "3"
    assert repo.run("bill", "2024-10").exit_code == 0
    # November: the pool is used up; the line says so, and all 3 h past the monthly 2 are charged: 1 x 150.00
    repo.csv("2024-11", "tickets.csv", TICKETS_HEADER, "A1,T3,Nov work,2024-11-10,3,true")
    assert amounts(repo.invoice("2024-11"), "support") == [
        (
            "Support hours: 3 h worked, 2 h from the monthly prepaid hours, yearly pool: 0 h left",
            "1",
            "150.00",
            "150.00",
        )
    ]


@pytest.mark.parametrize(
    "prepaid, charged",
    [
        # the pool resets in January: last year's 8 hours do not eat this year's 10; 2 h charged
        ("{yearly: 10}", ("2", "150.00", "300.00")),
        # a pool year from July to June: 2 h left in January, 10 h charged
        ("{yearly: 10, year_starts_month: 7}", ("10", "150.00", "1500.00")),
    ],
)
def test_prepaid_pool_year_boundaries(repo, prepaid, charged):
    repo.client("A1", f"prepaid_hours: {prepaid}\n")
    repo.csv("2024-12", "tickets.csv", TICKETS_HEADER, "A1,T1,December,2024-12-10,8,true")
    repo.csv("2025-01", "tickets.csv", TICKETS_HEADER, "A1,T2,January,2025-01-10,12,true")
    assert repo.run("bill", "2024-12").exit_code == 0
    jan = repo.invoice("2025-01")
    assert amounts(jan, "support")[0][1:] == charged


def test_rebilling_a_month_does_not_count_its_own_pool_use_twice(repo):
    repo.client("A1", "prepaid_hours: {yearly: 5}\n")
    repo.csv("2024-10", "tickets.csv", TICKETS_HEADER, "A1,T1,Work,2024-10-10,4,true")
    assert repo.run("bill", "2024-10").exit_code == 0
    again = repo.invoice("2024-10")
    assert amounts(again, "support")[0][1:] == ("0", "150.00", "0.00")


LINE_ITEMS = """
    line_items:
      - {name: Cloud Hosting, description: Azure VM hosting, monthly: 500.00, from: 2024-10, until: 2024-12}
      - {name: Network Upgrade, one_off: 2500.00, month: 2024-10}
      - {name: SSL Certificate Renewal, yearly: 1200.00, month: 1}
      - {service: CONSULT, quantity: 6.5, month: 2024-10, description: "Firewall migration"}
      - {service: DOMAIN, quantity: 2}
"""


@pytest.mark.parametrize(
    "month, expected",
    [
        ("2024-09", [("service:DOMAIN", "40.00")]),
        (
            "2024-10",
            [
                ("item:Cloud Hosting", "500.00"),
                ("item:Network Upgrade", "2500.00"),
                ("service:CONSULT", "812.50"),
                ("service:DOMAIN", "40.00"),
            ],
        ),
        ("2025-01", [("item:SSL Certificate Renewal", "1200.00"), ("service:DOMAIN", "40.00")]),
        ("2024-12", [("item:Cloud Hosting", "500.00"), ("service:DOMAIN", "40.00")]),
    ],
)
def test_line_items_by_kind_and_month(repo, month, expected):
    repo.client("A1", LINE_ITEMS)
    inv = repo.invoice(month)
    assert [(ln["category"], ln["amount"]) for ln in inv["lines"]] == expected


def test_non_taxable_service_is_left_out_of_the_tax_base(repo):
    repo.client("A1", LINE_ITEMS)
    inv = repo.invoice("2024-10")
    # taxable: 500 + 2500 + 812.50 = 3812.50; DOMAIN (40.00) is not taxable. HST 13% = 495.625 -> 495.63
    assert inv["subtotal"] == "3852.50"
    assert inv["taxes"] == [{"name": "HST", "rate": "13", "base": "3812.50", "amount": "495.63"}]
    assert inv["total"] == "4348.13"


def test_usage_rows_are_billed_at_the_catalog_rate(repo):
    repo.client("A1")
    repo.csv(
        "2024-10", "usage.csv", "account,service,quantity,description", "A1,CONSULT,1.25,Emergency call", "A1,DOMAIN,3,"
    )
    inv = repo.invoice()
    assert [(ln["description"], ln["quantity"], ln["rate"], ln["amount"]) for ln in inv["lines"]] == [
        ("Consulting: Emergency call", "1.25", "125.00", "156.25"),
        ("Domain Registration (year)", "3", "20.00", "60.00"),
    ]
    assert inv["totals"]["line_items"] == "216.25"


def test_contract_window_and_nothing_to_bill(repo):
    repo.client("A1", "start: 2024-11\n", name="Starts Later")
    repo.client("A2", "end: 2024-09\n", name="Ended")
    repo.client("A3", name="Nothing This Month")
    repo.users("2024-10", "A1", 2)
    document = repo.bill_json("2024-10")
    assert document["invoices"] == []
    assert any("outside its contract (2024-11 to …)" in w for w in document["warnings"])
    assert any("Nothing This Month (A3) has no export rows for 2024-10" in w for w in document["warnings"])


def test_invoice_number_format_terms_and_due_date(repo):
    repo.write(
        "settings.yaml",
        (repo.root / "settings.yaml")
        .read_text()
        .replace('"{account}-{year}{month:02d}"', '"INV-{account}-{year}-{month:02d}"'),
    )
    repo.client("A1", "terms_days: 15\n")
    repo.users("2024-02", "A1", 1)
    inv = repo.invoice("2024-02")
    assert inv["invoice"] == "INV-A1-2024-02"
    assert (inv["date"], inv["due"]) == ("2024-02-29", "2024-03-15")


def test_json_totals_add_up(repo):
    repo.client("A1")
    repo.client("A2", name="Other", province="AB")
    repo.csv("2024-10", "users.csv", USERS_HEADER, "A1,u1,One,,true", "A2,u2,Two,,true")
    document = repo.bill_json()
    assert document["totals"] == {"invoices": 2, "subtotal": "30.00", "tax": "2.70", "total": "32.70"}
