"""The QuickBooks Online import files: headers QuickBooks maps by itself, Canadian tax codes, its limits, and rows
that add up to each invoice's total (and each credit memo's, each payment's)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal

from conftest import ok, run

from otb_billing.core.model import Counts, Invoice, Line, QuickBooks, TaxLine
from otb_billing.core.money import cents
from otb_billing.core.month import Month
from otb_billing.render import quickbooks

HEADER = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo", "Item(Product/Service)",
          "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "ItemTaxCode", "ItemTaxAmount", "Service Date"]


def rows_of(path) -> tuple[list[str], list[dict]]:
    text = path.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, row, strict=False)) for row in reader]


def test_the_monthly_invoice_file_maps_by_itself_and_adds_up(example):
    totals = {i["invoice"]: i for i in json.loads(run(example, "bill", "2024-10", "--json").output)["invoices"]}
    assert run(example, "bill", "2024-10").exit_code == 0
    header, rows = rows_of(example / "build/2024-10/quickbooks-invoices-2024-10.csv")
    assert header == HEADER + ["Currency"]  # Northwind is invoiced in USD
    by_invoice = defaultdict(list)
    for row in rows:
        by_invoice[row["InvoiceNo"]].append(row)
        assert cents(Decimal(row["ItemQuantity"]) * Decimal(row["ItemRate"])) == Decimal(row["ItemAmount"])
    assert sorted(by_invoice) == sorted(totals)
    for number, lines in by_invoice.items():
        invoice = totals[number]
        assert sum(Decimal(r["ItemAmount"]) for r in lines) == Decimal(invoice["subtotal"]), number
        assert sum(Decimal(r["ItemTaxAmount"]) for r in lines) == Decimal(invoice["tax"]), number
        assert {r["Currency"] for r in lines} == {invoice["currency"]}
        assert {(r["InvoiceDate"], r["DueDate"], r["Terms"]) for r in lines} == {
            (f"{invoice['date'][8:]}/{invoice['date'][5:7]}/{invoice['date'][:4]}",
             f"{invoice['due'][8:]}/{invoice['due'][5:7]}/{invoice['due'][:4]}",
             "Net 15" if number == "987654-202410" else "Net 30")}
    codes = {number: {r["ItemTaxCode"] for r in lines} for number, lines in by_invoice.items()}
    assert codes == {"620547-202410": {"HST ON"}, "987654-202410": {"GST/QST QC"}, "555123-202410": {"GST"},
                     "HOST-0042-202410": {"Z"}, "NWT-310-202410": {"HST ON"}}
    # Acme, the seed's worked example: 25 users at 15.00 on one row, HST 13% of 375.00 = 48.75 on that row
    users = next(r for r in by_invoice["620547-202410"] if r["ItemDescription"] == "Users")
    assert (users["ItemQuantity"], users["ItemRate"], users["ItemAmount"], users["ItemTaxAmount"]) == (
        "25", "15.00", "375.00", "48.75")
    assert users["Memo"] == "October 2024: Gold MSP Plan, 1 Year" and users["Service Date"] == "31/10/2024"


def test_tax_codes_and_date_format_follow_settings(example):
    settings = example / "settings.yaml"
    settings.write_text(settings.read_text() + 'quickbooks: {date_format: "%m/%d/%Y", location: Toronto, '
                        'tax_codes: {"HST ON": "HST ON 13%", Z: "Zero-rated"}}\n')
    assert run(example, "bill", "2024-10").exit_code == 0
    _, rows = rows_of(example / "build/2024-10/quickbooks-invoices-2024-10.csv")
    acme = [r for r in rows if r["InvoiceNo"] == "620547-202410"]
    assert {(r["ItemTaxCode"], r["InvoiceDate"], r["Location"]) for r in acme} == {("HST ON 13%", "10/31/2024",
                                                                                    "Toronto")}
    assert {r["ItemTaxCode"] for r in rows if r["InvoiceNo"] == "HOST-0042-202410"} == {"Zero-rated"}
    settings.write_text(settings.read_text().replace('"%m/%d/%Y"', '"%m/%Y"'))
    result = run(example, "check")
    assert result.exit_code == 1 and "quickbooks.date_format '%m/%Y' does not write a whole date" in result.output


def test_a_business_without_tax_registrations_still_gets_a_code(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text().replace(
        'registrations: {GST/HST: "123456789RT0001"}', "registrations: {}"))
    repo.client("A1", 'line_items:\n  - {service: DOMAIN, quantity: 1}\n')
    repo.users("2024-10", "A1", 2)
    ok(repo, "bill", "2024-10")
    _, rows = rows_of(repo.root / "build/2024-10/quickbooks-invoices-2024-10.csv")
    assert [(r["ItemDescription"], r["ItemTaxCode"], r["ItemTaxAmount"]) for r in rows] == [
        ("Users", "E", "0.00"), ("Domain Registration", "E", "0.00")]


def test_a_line_not_subject_to_tax_is_exempt_and_carries_no_tax(repo):
    repo.client("A1", 'line_items:\n  - {service: DOMAIN, quantity: 1}\n')
    repo.users("2024-10", "A1", 2)
    ok(repo, "bill", "2024-10")
    _, rows = rows_of(repo.root / "build/2024-10/quickbooks-invoices-2024-10.csv")
    # users 30.00 taxed at 13% (3.90), the domain (20.00, not taxable) exempt
    assert [(r["ItemDescription"], r["ItemAmount"], r["ItemTaxCode"], r["ItemTaxAmount"]) for r in rows] == [
        ("Users", "30.00", "HST ON", "3.90"), ("Domain Registration", "20.00", "E", "0.00")]


def _invoice(n: int, lines: int) -> Invoice:
    rows = tuple(Line("item:X", f"Item {k}", Decimal(1), Decimal("10.00"), Decimal("10.00"), True, "Services")
                 for k in range(lines))
    subtotal = Decimal(10 * lines)
    return Invoice(number=f"C{n:03d}-202410", account=f"C{n:03d}", client=f"Client {n}", month=Month(2024, 10),
                   date=dt.date(2024, 10, 31), due=dt.date(2024, 11, 30), currency="CAD", plan="Gold", term="1 Year",
                   support_level="hourly", lines=rows, counts=Counts(),
                   taxes=(TaxLine("HST", Decimal(13), subtotal, cents(subtotal * Decimal("0.13")), "R", "ON"),))


def test_files_are_split_at_100_invoices_and_1000_rows_never_inside_an_invoice():
    files = dict(quickbooks.invoice_files([_invoice(n, 3) for n in range(250)], "2024-10", QuickBooks(), "CAD"))
    assert sorted(files) == [f"quickbooks-invoices-2024-10-part{n}.csv" for n in (1, 2, 3)]
    counts = [len({line.split(",")[0] for line in data.decode().splitlines()[1:]}) for _, data in sorted(files.items())]
    assert counts == [100, 100, 50]
    files = dict(quickbooks.invoice_files([_invoice(n, 45) for n in range(30)], "2024-10", QuickBooks(), "CAD"))
    rows = [data.decode().splitlines()[1:] for _, data in sorted(files.items())]
    assert [len(r) for r in rows] == [990, 360]  # 22 invoices of 45 rows, then 8: 1,035 would be too many
    assert not {r.split(",")[0] for r in rows[0]} & {r.split(",")[0] for r in rows[1]}
    assert [name for name, _ in quickbooks.invoice_files([_invoice(1, 3)], "2024-10", QuickBooks(), "CAD")] == [
        "quickbooks-invoices-2024-10.csv"]


def test_tax_is_spread_over_the_rows_to_the_cent():
    assert quickbooks.shares(Decimal("1.00"), [Decimal("1"), Decimal("1"), Decimal("1")]) == [
        Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]
    assert quickbooks.shares(Decimal("5.85"), [Decimal("45.00"), Decimal("0")]) == [Decimal("5.85"), Decimal("0.00")]


def test_payments_and_credit_memos_of_the_month(example):
    assert run(example, "export", "2024-10").exit_code == 0
    header, payments = rows_of(example / "build/2024-10/quickbooks-payments-2024-10.csv")
    assert header == ["PaymentDate", "Customer", "PaymentMethod", "DepositToAccount", "ReferenceNo", "InvoiceNo",
                      "Amount", "Memo", "Currency"]
    acme = [(p["ReferenceNo"], p["InvoiceNo"], p["Amount"]) for p in payments if p["Customer"] == "Acme Corporation"]
    assert acme == [("CHQ-2291", "620547-202409", "3365.99"), ("CHQ-2291-R", "620547-202409", "-3365.99")]
    assert ("WIRE-5688", "1370.77", "USD") in {(p["ReferenceNo"], p["Amount"], p["Currency"]) for p in payments}
    header, memos = rows_of(example / "build/2024-10/quickbooks-credit-memos-2024-10.csv")
    assert header[:3] == ["CreditMemoNo", "Customer", "CreditMemoDate"]
    # the SLA credit of 52.50 on Stark's September invoice: 50.00 of services and 2.50 of GST
    assert {m["CreditMemoNo"] for m in memos} == {"CN-555123-202409-1"}
    assert sum(Decimal(m["ItemAmount"]) for m in memos) == Decimal("50.00")
    assert sum(Decimal(m["ItemTaxAmount"]) for m in memos) == Decimal("2.50")
    assert {m["ItemTaxCode"] for m in memos} == {"GST"}


def test_a_quickbooks_section_without_a_date_format_uses_the_default(example):
    """Found by mypy: the default was read from the slotted class, which gives a descriptor, not the text."""
    settings = example / "settings.yaml"
    settings.write_text(settings.read_text() + "quickbooks: {location: Toronto}\n")
    assert run(example, "bill", "2024-10").exit_code == 0
    _, rows = rows_of(example / "build/2024-10/quickbooks-invoices-2024-10.csv")
    assert {(r["InvoiceDate"], r["Location"]) for r in rows} == {("31/10/2024", "Toronto")}


def test_each_part_is_handed_on_before_the_next_parts_invoices_are_rendered():
    """At most one part's text is held: 10,000 clients' 22 MB of rows all at once were a fifth of a bill's
    growth after billing."""
    rendered: list[str] = []

    def text_of(invoice, settings, with_currency):
        rendered.append(invoice.number)
        return quickbooks.invoice_text(invoice, settings, with_currency)

    invoices = [_invoice(n, 3) for n in range(250)]
    seen = []
    for name, data in quickbooks.invoice_files(invoices, "2024-10", QuickBooks(), "CAD", text_of):
        seen.append((name, len(rendered)))
        assert data.decode().count("\r\n") == 1 + 3 * (len(rendered) - 100 * (len(seen) - 1)
                                                       - (1 if len(rendered) < 250 else 0))
    # part 1 when the 101st invoice began part 2; part 2 when the 201st began part 3; part 3 at the end
    assert seen == [("quickbooks-invoices-2024-10-part1.csv", 101), ("quickbooks-invoices-2024-10-part2.csv", 201),
                    ("quickbooks-invoices-2024-10-part3.csv", 250)]
    assert [name for name, _ in quickbooks.invoice_files([], "2024-10", QuickBooks(), "CAD")] == [
        "quickbooks-invoices-2024-10.csv"]


def test_an_invoices_rows_are_the_csv_module_s_own_whatever_the_client_name_memo_or_location(example):
    """invoice_text writes the seven cells every row repeats once, as text: the same bytes as writing each row's
    fifteen (or sixteen, with the currency) cells, for text a CSV must quote or neutralize."""
    import dataclasses

    from otb_billing.jobs.pipeline import compute
    from otb_billing.render.qbcsv import neutralize

    _, result, _ = compute(example, Month(2024, 10))
    odd = ("Acme, Inc.", 'The "Best" Co', "Two\nLines", "=HYPERLINK(1)", "", " spaced ", "Łódź Ğrup 株式会社")
    for name, location in zip(odd, reversed(odd), strict=True):
        settings = QuickBooks(location=location)
        for with_currency in (False, True):
            for invoice in result.invoices:
                invoice = dataclasses.replace(invoice, client=name, plan=name)
                lines = quickbooks.grouped_lines(invoice)
                taxes = quickbooks.shares(invoice.tax, [line.amount if line.taxable else 0 for line in lines])
                day = invoice.date.strftime(settings.date_format)
                head = [invoice.number, neutralize(name), day, invoice.due.strftime(settings.date_format),
                        quickbooks.terms(invoice), neutralize(location),
                        neutralize(f"{invoice.month.label}: {name}, {invoice.term}" if name else invoice.month.label)]
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\r\n").writerows(
                    head + [neutralize(line.item), neutralize(line.description), quickbooks.fmt_quantity(line.quantity),
                            quickbooks.fmt_rate(line.rate), quickbooks.fmt_money(line.amount),
                            quickbooks.tax_code(invoice, line.taxable, settings), quickbooks.fmt_money(tax), day]
                    + ([invoice.currency] if with_currency else [])
                    for line, tax in zip(lines, taxes, strict=True))
                assert quickbooks.invoice_text(invoice, settings, with_currency) == (len(lines), buffer.getvalue())
