"""PDF invoices and statements, the HTML view, and finalize storing the issued documents."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys

import pdfplumber
import pytest
from beancount import loader
from conftest import REPO, ok
from hypothesis import given, settings
from hypothesis import strategies as st

from otb_billing.render.pdf import invoice_pdf
from otb_billing.render.views import Letterhead, invoice_view

USERS = "account,user_id,name,email,active"


def pdf_text(data: bytes) -> list[str]:
    """The text of each page as a reader extracts it (the DRAFT watermark is a picture, not text)."""
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def has_watermark(data: bytes) -> bool:
    """A page-sized picture over every page."""
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return all(any(image["width"] > 300 and image["height"] > 300 for image in page.images) for page in pdf.pages)



@pytest.fixture
def billed(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text().replace(
        'footer: "Thanks"', 'footer: "Thanks", payment_instructions: "EFT to account 1234"'))
    repo.client("A1", 'address: ["9 Elm St", "Ottawa ON"]\nline_items:\n  - {service: DOMAIN, quantity: 1}\n',
                name="Alpha & <Sons>")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true")
    repo.csv("2024-10", "tickets.csv", "account,ticket,subject,date,hours", "A1,T-9,Printer,2024-10-03,1.5")
    ok(repo, "bill", "2024-10")
    return repo


def test_bill_writes_draft_pdfs_with_the_ledger_numbers(billed):
    data = (billed.root / "build/2024-10/A1-202410.pdf").read_bytes()
    pages = pdf_text(data)
    text = "\n".join(pages)
    # 2 users x 15.00 + domain 20.00 (not taxable) + 1.5 h x 150.00 = 275.00; HST 13% of 255.00 = 33.15
    assert has_watermark(data)
    for expected in ("DRAFT INVOICE", "A1-202410", "Alpha & <Sons>", "9 Elm St", "October 31, 2024",
                     "November 30, 2024", "Net 30 days", "Users 2 $15.00 $30.00", "$225.00", "$20.00",
                     "Subtotal $275.00", "HST 13% (Reg. 123456789RT0001) $33.15", "Total $308.15",
                     "Amount due $308.15", "Domain Registration *", "* Not subject to sales tax.",
                     "EFT to account 1234", "Thanks"):
        assert expected in text, expected
    ledger = (billed.root / "ledger/invoices/2024/2024-10.beancount").read_text()
    assert "Assets:Receivable:A1 308.15 CAD" in " ".join(ledger.split())
    assert re.search(r"Page 1 of \d", pages[0])
    assert "T-9 2024-10-03 Printer 1.5 1.5" in pages[-1]  # the ticket appendix, with the day worked


def test_the_same_invoice_renders_to_the_same_bytes(billed):
    first = (billed.root / "build/2024-10/A1-202410.pdf").read_bytes()
    ok(billed, "bill", "2024-10")
    assert (billed.root / "build/2024-10/A1-202410.pdf").read_bytes() == first
    ok(billed, "pdf", "2024-10")
    assert (billed.root / "build/2024-10/A1-202410.pdf").read_bytes() == first
    # another process (fresh font registration, subset names and all)
    subprocess.run([sys.executable, "-m", "otb_billing", "pdf", "2024-10", "--root", str(billed.root)], check=True,
                   capture_output=True)
    assert (billed.root / "build/2024-10/A1-202410.pdf").read_bytes() == first


def test_the_watermark_encoded_once_draws_what_reportlabs_draw_image_does(billed, monkeypatch):
    """The DRAFT picture is encoded once per process and copied into each PDF through ReportLab's own objects; a
    ReportLab that changed underneath would show here as different bytes from its public drawImage."""
    from otb_billing.render import pdf

    fast = (billed.root / "build/2024-10/A1-202410.pdf").read_bytes()
    pages = [fast]

    def draw_image(canvas, mark, x, y, width, height):
        canvas.drawImage(pdf._watermark_image(mark), x, y, width, height, mask="auto")

    monkeypatch.setattr(pdf, "_draw_watermark_image", draw_image)
    (billed.root / "build/2024-10/A1-202410.pdf").unlink()
    ok(billed, "pdf", "2024-10")  # in this process: the patched drawing
    pages.append((billed.root / "build/2024-10/A1-202410.pdf").read_bytes())
    assert pages[1] == pages[0] and has_watermark(pages[1])
    assert pages[1].count(b"/Subtype /Image") == 2  # the picture and its soft mask, once in the document


def test_font_subsets_made_once_are_the_bytes_reportlab_makes_each_time(billed, monkeypatch):
    """Each font subset is made and compressed once per process, and printable ASCII is split for the subset
    without ReportLab's per-character loop (render/fonts.py); the PDF must not change."""
    from reportlab.pdfbase import pdfmetrics, ttfonts

    pdf = billed.root / "build/2024-10/A1-202410.pdf"
    made = []
    real = ttfonts.TTFontFile.makeSubset
    monkeypatch.setattr(ttfonts.TTFontFile, "makeSubset", lambda face, subset: made.append(1) or real(face, subset))
    pdf.unlink()
    ok(billed, "pdf", "2024-10")
    kept = pdf.read_bytes()
    assert made == []  # this process made the subsets when it billed: kept since
    for name in ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"):
        face = pdfmetrics.getFont(name).face
        monkeypatch.delattr(face, "makeSubset")  # ReportLab's own methods again
        monkeypatch.delattr(face, "addSubsetObjects")
        monkeypatch.delattr(pdfmetrics.getFont(name), "splitString")
    pdf.unlink()
    ok(billed, "pdf", "2024-10")
    assert len(made) >= 2 and pdf.read_bytes() == kept


CELL_TEXT = st.one_of(st.text("WM@mw il1.$0123456789,-", max_size=40), st.text(max_size=40),
                      st.text(st.characters(max_codepoint=0x24F), max_size=40))


@settings(max_examples=500, deadline=None)
@given(CELL_TEXT, st.floats(0.5, 1.6))
def test_a_cell_fits_exactly_when_its_measured_width_does(text, ratio):
    """grid.fits skips measuring short ASCII cells; the answer must be the measured one, also for cells a hair
    wider or narrower than their column."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from otb_billing.render import fonts, grid

    fonts.register()
    width = stringWidth(text, grid.REGULAR, grid.BODY_SIZE) * ratio + 8
    measured = ("\n" not in text and fonts.covered(text)
                and stringWidth(text, grid.REGULAR, grid.BODY_SIZE) <= width - 8)
    assert grid.fits(text, width) == measured


def test_names_in_any_script_print_as_written(repo):
    name = "Acme Łódź Ğrup 株式会社"
    repo.client("A1", 'address: ["ul. Piotrkowska 1", "90-001 Łódź", "Αθήνα · Москва"]\n', name=name)
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,Zoë Ångström,,true", "A1,u2,山田 太郎,,true")
    ok(repo, "bill", "2024-10")
    data = (repo.root / "build/2024-10/A1-202410.pdf").read_bytes()
    pages = pdf_text(data)
    assert name in pages[0] and "90-001 Łódź" in pages[0] and "Αθήνα · Москва" in pages[0]
    assert "User: Zoë Ångström" in pages[-1] and "User: 山田 太郎" in pages[-1]
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        # pdfminer spells the Adobe font's name its own way (HeiseKakuGo-W5)
        fonts = {c["fontname"].split("+")[-1].replace("HeiseKaku", "HeiseiKaku") for page in pdf.pages
                 for c in page.chars}
        cjk = {c["fontname"].replace("HeiseKaku", "HeiseiKaku") for c in pdf.pages[0].chars if c["text"] in "株式会社"}
    # every glyph from the bundled DejaVu Sans (embedded), but the CJK ones (the standard Adobe Japanese font)
    assert fonts == {"DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "HeiseiKakuGo-W5"}, fonts
    assert cjk == {"HeiseiKakuGo-W5"}
    assert b"/FontFile2" in data  # TrueType embedded


def test_the_draft_watermark_keeps_the_text_in_reading_order(billed):
    draft = pdf_text((billed.root / "build/2024-10/A1-202410.pdf").read_bytes())
    ok(billed, "finalize", "2024-10", "--at", "2024-11-01T13:30:00Z")
    final_data = (billed.root / "ledger/documents/2024/A1-202410.pdf").read_bytes()
    final = pdf_text(final_data)
    assert [page.replace("DRAFT INVOICE", "INVOICE").replace("Draft invoice", "Invoice") for page in draft] == final
    assert not has_watermark(final_data)


def test_a_pdf_is_dated_by_its_invoice(billed):
    with pdfplumber.open(billed.root / "build/2024-10/A1-202410.pdf") as pdf:
        assert pdf.metadata["CreationDate"] == "D:20241031000000+00'00'"  # a draft: its invoice date
    ok(billed, "finalize", "2024-10", "--at", "2024-11-01T13:30:00Z")
    with pdfplumber.open(billed.root / "ledger/documents/2024/A1-202410.pdf") as pdf:
        assert pdf.metadata["CreationDate"] == "D:20241101133000+00'00'"  # issued: when it was finalized
        assert pdf.metadata["ModDate"] == "D:20241101133000+00'00'"


def test_finalize_stores_the_pdf_once_and_links_it_in_the_ledger(billed):
    ok(billed, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    pdf = billed.root / "ledger/documents/2024/A1-202410.pdf"
    data = pdf.read_bytes()
    text = "\n".join(pdf_text(data))
    assert "DRAFT" not in text and not has_watermark(data) and "INVOICE" in text and "Total $308.15" in text
    directives = (billed.root / "ledger/documents.beancount").read_text()
    assert ('2024-10-31 document Assets:Receivable:A1 "documents/2024/A1-202410.pdf" ^A1-202410\n'
            f'  sha256: "{hashlib.sha256(data).hexdigest()}"') in directives
    entries, errors, _ = loader.load_file(str(billed.root / "ledger/main.beancount"))
    assert errors == []
    documents = [e for e in entries if type(e).__name__ == "Document"]
    # Fava's link_documents plugin ties the PDF to the invoice's `document:` metadata (and tags it #linked)
    assert [(d.filename.endswith("documents/2024/A1-202410.pdf"), d.links, d.tags) for d in documents] == [
        (True, {"A1-202410", "dok-2024-10-31"}, {"linked"})]
    invoice = next(e for e in entries if type(e).__name__ == "Transaction" and "A1-202410" in e.links)
    assert invoice.meta["document"] == "A1-202410.pdf" and "dok-2024-10-31" in invoice.links
    # billing again never touches it; a later change of inputs does not change the stored document
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    ok(billed, "bill", "2024-10")
    assert pdf.read_bytes() == data
    html = ok(billed, "show", "A1-202410", "--html", "--as-of", "2024-11-02")
    assert "$308.15" in html


def test_finalize_refuses_when_the_inputs_changed_since_billing(billed):
    billed.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true")
    result = billed.run("finalize", "2024-10")
    assert result.exit_code == 1
    assert "A1-202410: the inputs no longer give the draft in the ledger" in result.output
    assert not (billed.root / "ledger/documents").exists()


def test_html_view_has_the_pdf_numbers_and_escapes_text(billed):
    html = ok(billed, "show", "A1-202410", "--html", "--as-of", "2024-11-02")
    assert "Alpha &amp; &lt;Sons&gt;" in html and "<Sons>" not in html
    for expected in ("$30.00", "$225.00", "$275.00", "$33.15", "$308.15", "DRAFT", "Support tickets"):
        assert expected in html, expected
    text = ok(billed, "show", "A1-202410", "--as-of", "2024-11-02")
    assert "Amount due  $308.15" in text


def test_a_500_device_client_flows_over_pages_with_repeated_headers(repo):
    repo.client("BIG", name="Big Co")
    repo.csv("2024-10", "assets.csv", "account,asset_id,hostname,type,backup_tb",
             *(f"BIG,d{i},BIG-PC-{i:03d},workstation,0.01" for i in range(500)))
    ok(repo, "bill", "2024-10")
    pages = pdf_text((repo.root / "build/2024-10/BIG-202410.pdf").read_bytes())
    assert len(pages) >= 8
    assert all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, 1))
    appendix = [page for page in pages if "Workstation: BIG-PC-" in page]
    assert len(appendix) >= 6
    assert all("Item Qty Rate Amount" in page for page in appendix)  # the header repeats on every page
    assert "Workstation: BIG-PC-499" in appendix[-1]
    assert "Workstations 500 $75.00 $37,500.00" in pages[0]
    printed = re.findall(r"Workstation: (BIG-PC-\d{3})", "\n".join(appendix))
    assert sorted(printed) == [f"BIG-PC-{i:03d}" for i in range(500)]  # each device once: none lost at a page break


def test_a_grid_splits_between_rows_and_keeps_its_stripes_and_colours():
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph

    from otb_billing.render import grid

    style = grid.Style(colors.black, colors.grey, colors.blue, colors.grey, colors.white)
    rows = [(f"row {i}", Paragraph("a long text " * 30) if i == 5 else "x") for i in range(40)]
    table = grid.Grid(("A", "B"), rows, [200, 200], {1}, style, tints={(39, 1): colors.red})
    width, height = table.wrap(400, 10_000)
    assert width == 400 and height == pytest.approx(15.1 + 39 * 16.3 + table.heights[5])
    assert table.heights[5] > 16.3 * 3  # the paragraph wraps: its row is as tall as its lines
    first, rest = table.split(400, 300)
    assert (first.first, rest.first) == (0, len(first.rows))
    assert [r[0] for r in first.rows + rest.rows] == [f"row {i}" for i in range(40)]
    assert first.wrap(400, 300)[1] <= 300
    assert rest.tints == {(39, 1): colors.red}
    assert table.split(400, 20) == []  # not even one row fits: the table moves to the next page whole


def test_statement_pdf(billed):
    ok(billed, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    ok(billed, "pay", "A1", "100.00", "--date", "2024-11-10", "--ref", "CHQ-5")
    out = ok(billed, "statement", "A1", "--to", "2024-11-30", "--pdf")
    assert "Wrote build/statements/A1-2024-11-30.pdf" in out
    text = "\n".join(pdf_text((billed.root / "build/statements/A1-2024-11-30.pdf").read_bytes()))
    for expected in ("STATEMENT", "Alpha & <Sons>", "Opening balance $0.00", "A1-202410", "$308.15",
                     "CHQ-5", "$100.00", "$208.15", "Closing balance $208.15", "Current", "Page 1 of 1"):
        assert expected in text, expected


def test_foreign_invoice_pdf_shows_tax_in_both_currencies(repo):
    repo.client("U1", "currency: USD\n", name="Union Co")
    repo.csv("2024-10", "users.csv", USERS, "U1,u1,One,,true")
    ok(repo, "fx", "set", "USD", "1.2500", "--date", "2024-10-31")
    ok(repo, "bill", "2024-10")
    text = "\n".join(pdf_text((repo.root / "build/2024-10/U1-202410.pdf").read_bytes()))
    # 15.00 CAD / 1.25 = US$12.00; HST 1.56 USD = 1.95 CAD; total US$13.56 = $16.95
    for expected in ("1 USD = 1.2500 CAD on 2024-10-31", "US$12.00", "US$1.56 ($1.95)", "Total US$13.56",
                     "Total in CAD $16.95"):
        assert expected in text, expected


def test_view_and_pdf_come_from_the_same_numbers(billed):
    from otb_billing.core.month import Month
    from otb_billing.jobs.pipeline import compute

    config, result, _ = compute(billed.root, Month(2024, 10))
    invoice = result.invoices[0]
    view = invoice_view(invoice, Letterhead.of(config.settings), (), terms_days=30, instructions="", footer="",
                        draft=False)
    text = "\n".join(pdf_text(invoice_pdf(view)))
    for _, value in view.totals:
        assert value in text
    for row in view.summary:
        assert row[-1] in text


def test_a_logo_from_settings_is_drawn_and_a_missing_one_is_an_error(repo):
    from PIL import Image

    (repo.root / "assets").mkdir(parents=True)
    Image.new("RGB", (240, 80), (11, 83, 148)).save(repo.root / "assets/logo.png")
    settings = (repo.root / "settings.yaml").read_text()
    repo.write("settings.yaml", settings.replace("business: {name: Test MSP,",
                                                 "business: {name: Test MSP, logo: assets/logo.png,"))
    repo.client("A1")
    repo.users("2024-10", "A1", 1)
    ok(repo, "bill", "2024-10")
    with pdfplumber.open(repo.root / "build/2024-10/A1-202410.pdf") as pdf:
        logos = [i for i in pdf.pages[0].images if (i["srcsize"]) == (240, 80)]  # the other one is DRAFT
        assert len(logos) == 1 and logos[0]["x0"] == 54.0 and logos[0]["top"] < 100
    repo.write(
        "settings.yaml", settings.replace("business: {name: Test MSP,", "business: {name: Test MSP, logo: nope.png,")
    )
    result = repo.run("bill", "2024-10")
    assert (
        result.exit_code == 1 and "settings.yaml:1: logo 'nope.png' is not a file in the billing repo" in result.output
    )


def test_a_changed_issued_pdf_is_reported_by_bean_check(billed):
    ok(billed, "finalize", "2024-10", "--at", "2024-11-01T12:00:00Z")
    pdf = billed.root / "ledger/documents/2024/A1-202410.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"%tampered\n")
    _, errors, _ = loader.load_file(str(billed.root / "ledger/main.beancount"))
    assert [e.message for e in errors] == [
        f"{pdf} was changed after it was issued (sha256 differs); restore it from git"
    ]


def test_a_snapshot_stored_before_ticket_dates_still_loads():
    """Invoices finalized by an earlier version stored tickets without their dates; they must still show."""
    from otb_billing.books import snapshot

    stored = json.loads((REPO / "ledger/documents/2024/620547-202409.json").read_text())
    stored["tickets"] = [t[:4] for t in stored["tickets"]]
    invoice = snapshot.from_json(json.dumps(stored))
    assert [(t.ticket, str(t.hours), t.dates) for t in invoice.tickets] == [("T-911", "1.5", ()), ("T-912", "3.0", ())]


def test_a_rebill_renders_only_the_pdfs_whose_invoice_changed(repo):
    for account in ("A1", "B2", "C3"):
        repo.client(account, name=f"Client {account}")
    repo.csv("2024-10", "users.csv", USERS, "A1,a,A,,true", "B2,b,B,,true", "C3,c,C,,true")
    ok(repo, "bill", "2024-10")
    build = repo.root / "build/2024-10"
    before = {n: (build / f"{n}-202410.pdf").stat().st_ino for n in ("A1", "B2", "C3")}
    keys = json.loads((build / "pdf-keys.json").read_text())
    assert sorted(keys) == ["A1-202410", "B2-202410", "C3-202410"]
    repo.client("B2", 'rates: {per_user: 20.00}\n', name="Client B2")
    ok(repo, "bill", "2024-10")
    after = {n: (build / f"{n}-202410.pdf").stat().st_ino for n in ("A1", "B2", "C3")}
    assert after["A1"] == before["A1"] and after["C3"] == before["C3"]  # not rewritten
    assert after["B2"] != before["B2"] and "$22.60" in pdf_text((build / "B2-202410.pdf").read_bytes())[0]
    assert "Every draft PDF is up to date" in ok(repo, "pdf", "2024-10")
    forced = ok(repo, "pdf", "2024-10", "--force")
    assert forced.count("Wrote build/2024-10/") == 3
    # a PDF deleted by hand is made again
    (build / "C3-202410.pdf").unlink()
    assert "Wrote build/2024-10/C3-202410.pdf" in ok(repo, "pdf", "2024-10")


def test_rendering_many_pdfs_shows_a_progress_bar(repo):
    rows = []
    for n in range(22):
        repo.client(f"P{n:02d}", name=f"Client {n}")
        rows.append(f"P{n:02d},u{n},U,,true")
    repo.csv("2024-10", "users.csv", USERS, *rows)
    result = repo.run("bill", "2024-10")
    assert result.exit_code == 0
    assert "Draft PDFs" in result.stderr


def test_a_rate_with_more_than_cents_reads_the_same_everywhere(repo):
    repo.client("A1", "rates: {per_user: 12.345}\n", name="Alpha")
    repo.csv("2024-10", "users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true")
    invoice = repo.invoice()
    # each user line is 1 x 12.345 = 12.345 -> 12.35 (half-up, per line); the rate keeps its three decimals
    assert [(ln["quantity"], ln["rate"], ln["amount"]) for ln in invoice["lines"]] == [("1", "12.345", "12.35"),
                                                                                       ("1", "12.345", "12.35")]
    ok(repo, "bill", "2024-10")
    build = repo.root / "build/2024-10"
    assert ",1,12.345,12.35," in (build / "Alpha-A1-202410.csv").read_text()
    assert ",Users,2,12.345,24.70," in (build / "quickbooks-invoices-2024-10.csv").read_text()
    pages = pdf_text((build / "A1-202410.pdf").read_bytes())
    assert "Users 2 $12.345 $24.70" in pages[0] and "User: One 1 $12.345 $12.35" in pages[-1]
