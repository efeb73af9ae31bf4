"""QuickBooks CSV: Qty x Rate = Amount on every row, rows add up to the subtotal, formulas neutralized, ZIP stable."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import ROUND_HALF_UP, Decimal

from conftest import run
from hypothesis import given, settings
from hypothesis import strategies as st


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


def test_an_invoice_csv_is_the_csv_module_s_own_rows_whatever_the_client_name(example):
    """render/qbcsv.invoice_csv writes the cells every row repeats once, as text: the same bytes as writing every
    row's ten cells, for names a CSV must quote (comma, quote, newline) or neutralize (a formula)."""
    import dataclasses

    from otb_billing.core.month import Month
    from otb_billing.jobs.pipeline import compute
    from otb_billing.render import qbcsv

    _, result, _ = compute(example, Month(2024, 10))
    odd = ("Acme, Inc.", 'The "Best" Co', "Two\nLines", "=HYPERLINK(1)", "", " spaced ", "Łódź Ğrup 株式会社", "a\r",
           '"')
    for n, name in enumerate(odd):
        for invoice in result.invoices:
            lines = tuple(line._replace(description=odd[(n + i) % len(odd)] + line.description,
                                        item=odd[(n + i) % 3] if i % 2 else line.item)
                          for i, line in enumerate(invoice.lines))  # descriptions and items a CSV must quote
            invoice = dataclasses.replace(invoice, client=name, lines=lines)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(qbcsv.COLUMNS)
            head = [invoice.number, qbcsv.neutralize(name), invoice.date.isoformat(), invoice.due.isoformat()]
            writer.writerows(head + [qbcsv.neutralize(line.item), qbcsv.neutralize(line.description),
                                     qbcsv.fmt_quantity(line.quantity), qbcsv.fmt_rate(line.rate),
                                     qbcsv.fmt_money(line.amount), qbcsv.tax_code(invoice, line.taxable)]
                             for line in invoice.lines)
            assert qbcsv.invoice_csv(invoice) == buffer.getvalue()
            assert [row[1] for row in csv.reader(io.StringIO(buffer.getvalue(), newline=""))][1:] == [
                qbcsv.neutralize(name)] * len(invoice.lines)


@given(st.text(alphabet=st.sampled_from('a ",\r\n=+-@\t\'é;'), max_size=8))
@settings(max_examples=2000, deadline=None)
def test_a_csv_cell_is_the_csv_module_s_cell(text):
    from otb_billing.render.qbcsv import csv_cell

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["x", text, "y"])
    assert buffer.getvalue() == f"x,{csv_cell(text)},y\r\n"


def test_the_month_zip_is_deflated_at_the_fast_level_and_unzips_to_the_same_csvs():
    """qbcsv.ZIP_LEVEL: 3, not zlib's default 6 (0.12 -> 0.07 s for 1,000 invoices' CSVs, a tenth bigger)."""
    import io
    import zipfile
    import zlib

    from otb_billing.render import qbcsv

    files = {f"Client {n}-{n}-202410.csv": ("InvoiceNo,Customer\r\n" + f"{n},Client {n}\r\n" * 400).encode()
             for n in range(3)}
    data = qbcsv.month_zip(files)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == files
        for info in archive.infolist():
            deflate = zlib.compressobj(qbcsv.ZIP_LEVEL, zlib.DEFLATED, -15)
            assert info.compress_size == len(deflate.compress(files[info.filename]) + deflate.flush())
    assert qbcsv.ZIP_LEVEL == 3 and qbcsv.month_zip(files) == data  # the same bytes each time
