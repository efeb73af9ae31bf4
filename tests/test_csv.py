"""QuickBooks CSV: Qty x Rate = Amount on every row, rows add up to the subtotal, formulas neutralized, ZIP stable."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import ROUND_HALF_UP, Decimal

from conftest import run


def read_rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_every_example_csv_row_multiplies_and_the_rows_add_up(example):
    result = run(example, "bill", "2024-10", "--json")
    assert result.exit_code == 0, result.output
    invoices = {i["invoice"]: i for i in json.loads(result.output)["invoices"]}
    files = sorted(p for p in (example / "build/2024-10").glob("*.csv") if not p.name.startswith("quickbooks-"))
    assert len(files) == len(invoices) == 5
    for path in files:
        rows = read_rows(path)
        number = rows[0]["InvoiceNo"]
        for row in rows:
            qty, rate, amount = (Decimal(row[k]) for k in ("Qty", "Rate", "Amount"))
            assert (qty * rate).quantize(Decimal("0.01"), ROUND_HALF_UP) == amount, row
        assert sum(Decimal(r["Amount"]) for r in rows) == Decimal(invoices[number]["subtotal"])
        assert len(rows) == len(invoices[number]["lines"])
    acme = read_rows(example / "build/2024-10/Acme Corporation-620547-202410.csv")
    assert acme[0] == {
        "InvoiceNo": "620547-202410", "Customer": "Acme Corporation", "InvoiceDate": "2024-10-31",
        "DueDate": "2024-11-30", "Item(Product/Service)": "Managed Services", "Description": "User: Alice Anderson",
        "Qty": "1", "Rate": "15.00", "Amount": "15.00", "TaxCode": "HST",
    }
    nakamoto = read_rows(example / "build/2024-10/Nakamoto Labs LLC-HOST-0042-202410.csv")
    assert {r["TaxCode"] for r in nakamoto} == {"Zero-rated"}
    assert [r for r in nakamoto if r["Item(Product/Service)"] == "RPC Endpoint"][0]["Amount"] == "961.10"


def test_the_zip_holds_every_csv_and_is_byte_stable(example):
    assert run(example, "bill", "2024-10").exit_code == 0
    archive = example / "build/2024-10/invoices-2024-10.zip"
    first = archive.read_bytes()
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        assert names == sorted(p.name for p in (example / "build/2024-10").glob("*.csv")
                               if not p.name.startswith("quickbooks-"))
        assert z.read("Acme Corporation-620547-202410.csv") == (
            example / "build/2024-10/Acme Corporation-620547-202410.csv").read_bytes()
    assert run(example, "bill", "2024-10").exit_code == 0
    assert archive.read_bytes() == first


def test_formula_cells_are_neutralized(repo):
    repo.client("A1", name="'=HYPERLINK(\"http://evil\")'")
    repo.csv("2024-10", "users.csv", "account,user_id,name,email,active", "A1,u1,+SUM(A1:A9),,true",
             "A1,u2,@cmd,,true", "A1,u3,-2+3,,true")
    assert repo.run("bill", "2024-10").exit_code == 0
    [path] = (repo.root / "build/2024-10").glob("*-A*.csv")
    rows = read_rows(path)
    assert rows[0]["Customer"] == "'=HYPERLINK(\"http://evil\")"
    assert sorted(r["Description"] for r in rows) == ["User: +SUM(A1:A9)", "User: -2+3", "User: @cmd"]
    assert path.name == "=HYPERLINK(-http---evil-)-A1-202410.csv"


def test_rates_with_more_than_two_decimals_keep_them(repo):
    repo.write("services.yaml", "- {code: RPC, name: RPC Requests, rate: 0.0004, unit: request}\n")
    repo.client("A1")
    repo.csv("2024-10", "usage.csv", "account,service,quantity,description", "A1,RPC,123457,")
    assert repo.run("bill", "2024-10").exit_code == 0
    [path] = (repo.root / "build/2024-10").glob("*-A*.csv")
    [row] = read_rows(path)
    # 123457 x 0.0004 = 49.3828 -> 49.38
    assert (row["Qty"], row["Rate"], row["Amount"]) == ("123457", "0.0004", "49.38")
