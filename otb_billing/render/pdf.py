"""PDF invoices and statements with ReportLab, from the view models in render/views.py.

ReportLab's invariant mode fixes the document id, and the creation date is the invoice's own (its date for a
draft, the moment it was finalized once issued), so the same invoice always gives the same bytes. Text is set in
the bundled DejaVu Sans (render/fonts.py). Long appendices flow over as many pages as needed, with their table
headers repeated and "Page X of Y".
"""

from __future__ import annotations

import copy
import datetime as dt
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.pdfgen.canvas import _digester
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from . import fonts, grid
from .fonts import BOLD, OBLIQUE, REGULAR
from .views import InvoiceView, Letterhead, Section, StatementView

fonts.register()

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
ACCENT = colors.HexColor("#0b5394")
RULE = colors.HexColor("#cbd2d9")
ZEBRA = colors.HexColor("#f5f7fa")
OWING, ZERO_BAL, CREDIT = colors.HexColor("#b3261e"), colors.HexColor("#0b5394"), colors.HexColor("#137333")

BASE = ParagraphStyle("base", fontName=REGULAR, fontSize=9, leading=12, textColor=INK)
SMALL = ParagraphStyle("small", parent=BASE, fontSize=8, leading=10, textColor=MUTED)
NAME = ParagraphStyle("name", parent=BASE, fontName=BOLD, fontSize=15, leading=18, textColor=ACCENT)
TITLE = ParagraphStyle("title", parent=BASE, fontName=BOLD, fontSize=20, leading=24, alignment=TA_RIGHT)
RIGHT = ParagraphStyle("right", parent=BASE, alignment=TA_RIGHT)
SMALL_RIGHT = ParagraphStyle("small_right", parent=SMALL, alignment=TA_RIGHT)
HEAD = ParagraphStyle(
    "head",
    parent=BASE,
    fontName=BOLD,
    fontSize=10.5,
    leading=14,
    spaceBefore=10,
    spaceAfter=4,
    textColor=ACCENT,
    keepWithNext=1,
)
LABEL = ParagraphStyle("label", parent=SMALL, fontName=BOLD, textColor=MUTED)
WIDTH = LETTER[0] - 1.5 * inch


def p(text: str, style: ParagraphStyle = BASE) -> Paragraph:
    return Paragraph(fonts.markup(text), style)


class _NumberedCanvas(pdfcanvas.Canvas):
    """Draws 'Page X of Y', the document's name and the settings footer once the page count is known."""

    footer_left = ""
    footer_center = ""
    draft_mark = ""
    created: dt.datetime | None = None

    def __init__(self, *args, **kwargs):
        kwargs["invariant"] = 1
        kwargs.setdefault("initialFontName", REGULAR)
        super().__init__(*args, **kwargs)
        if self.created is not None:  # the document's date: the invoice's, not 2000-01-01, and still no clock
            self._doc._timeStamp = _Stamp(self.created)
        self._pages = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFillColor(MUTED)
            fonts.draw(self, 0.75 * inch, 0.5 * inch, self.footer_left, REGULAR, 7.5)
            fonts.draw(
                self,
                LETTER[0] - 0.75 * inch,
                0.5 * inch,
                self.page_text.format(page=self._pageNumber, total=total),
                REGULAR,
                7.5,
                "right",
            )
            if self.footer_center:
                self.setFillColor(ACCENT)
                fonts.draw(self, LETTER[0] / 2, 0.68 * inch, self.footer_center, OBLIQUE, 8.5, "centre")
            if self.draft_mark:
                _watermark(self, self.draft_mark)
            super().showPage()
        super().save()


def _canvas_with(
    footer: str,
    center: str = "",
    page: str = "Page {page} of {total}",
    mark: str = "",
    created: dt.datetime | None = None,
):
    return type(
        "FooterCanvas",
        (_NumberedCanvas,),
        {"footer_left": footer, "footer_center": center, "page_text": page, "draft_mark": mark, "created": created},
    )


class _Stamp:
    """A ReportLab TimeStamp for a given moment (UTC), so CreationDate and ModDate say when the document is from."""

    def __init__(self, when: dt.datetime) -> None:
        when = when.astimezone(dt.UTC) if when.tzinfo else when
        self.t = when.replace(tzinfo=dt.UTC).timestamp()
        self.lt = when.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh = self.dmm = 0
        self.tzname = "UTC"


@lru_cache(maxsize=8)
def _watermark_image(mark: str) -> ImageReader:
    """DRAFT as a picture, not text: text extraction (copy, search, a screen reader) then reads the invoice
    alone, in order, instead of a diagonal word's letters mixed into its lines. Drawn from the bundled bold
    font, so the same mark gives the same bytes."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    with resources.as_file(resources.files("otb_billing") / "fonts" / fonts.FILES[fonts.BOLD]) as path:
        font = ImageFont.truetype(str(path), 90)  # about 130 dpi across the page: soft, small to store
    left, top, right, bottom = font.getbbox(mark)
    image = PILImage.new("LA", (int(right - left) + 40, int(bottom - top) + 40), (0, 0))
    ImageDraw.Draw(image).text((20 - left, 20 - top), mark, font=font, fill=(0, 255))
    image = image.rotate(35, expand=True, resample=PILImage.Resampling.BICUBIC)
    alpha = image.getchannel("A").point(lambda a: a * 31 // 255)  # 12% opaque
    red = PILImage.new("RGBA", image.size, (217, 26, 26, 0))
    red.putalpha(alpha)
    return ImageReader(red)


@lru_cache(maxsize=8)
def _watermark_xobjects(mark: str) -> tuple[str, pdfdoc.PDFImageXObject, pdfdoc.PDFImageXObject]:
    """The DRAFT picture's image and soft-mask XObjects, encoded once per process: (name, image, mask).

    `canvas.drawImage` hashes and compresses the picture's 450 KB of pixels again for every document, a fifth of
    the time a one-page draft takes. Each document gets its own shallow copies of these (ReportLab registers an
    object in one document only); the bytes written are the same (test_documents compares them with drawImage's)."""
    image = _watermark_image(mark)
    name = _digester(image.getRGBData() + image._dataA.getRGBData())  # drawImage's name for it, mask="auto"
    picture = pdfdoc.PDFImageXObject(name, image, mask="auto")
    picture.name = name
    mask = picture._smask
    del picture._smask
    return name, picture, mask


def _draw_watermark_image(canvas, mark: str, x: float, y: float, width: float, height: float) -> None:
    """What `canvas.drawImage(_watermark_image(mark), x, y, width, height, mask="auto")` draws, from the
    XObjects encoded once (see _watermark_xobjects)."""
    name, picture, mask = _watermark_xobjects(mark)
    doc = canvas._doc
    canvas._currentPageHasImages = 1
    if doc.getXObjectName(name) not in doc.idToObject:
        picture, mask = copy.copy(picture), copy.copy(mask)
        canvas._setXObjects(picture)
        doc.Reference(picture, doc.getXObjectName(name))
        doc.addForm(name, picture)
        canvas._setXObjects(mask)
        picture.smask = doc.Reference(mask, doc.getXObjectName(mask.name))
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(width, height)
    canvas.doForm(name)
    canvas.restoreState()


def _watermark(canvas, mark: str) -> None:
    """The DRAFT mark across the page, drawn last (over the content, under nothing a reader extracts). The
    picture is stored once per document, as a form every page draws."""
    if not canvas.hasForm("otb-draft"):
        w, h = _watermark_image(mark).getSize()
        scale = min(7.5 * inch / w, 8.5 * inch / h)
        canvas.beginForm("otb-draft")
        _draw_watermark_image(canvas, mark, (LETTER[0] - w * scale) / 2, (LETTER[1] - h * scale) / 2, w * scale,
                              h * scale)
        canvas.endForm()
    canvas.doForm("otb-draft")


def _letterhead(lh: Letterhead, title: str, root: Path | None) -> Table:
    left = []
    if lh.logo and root is not None and (root / lh.logo).is_file():
        logo = Image(str(root / lh.logo))
        scale = min(1.6 * inch / logo.drawWidth, 0.7 * inch / logo.drawHeight, 1)
        logo.drawWidth, logo.drawHeight = logo.drawWidth * scale, logo.drawHeight * scale
        logo.hAlign = "LEFT"
        left.append(logo)
    left.append(p(lh.name, NAME))
    left += [p(line, SMALL) for line in lh.lines]
    size = min(20.0, (WIDTH * 0.4) / max(1.0, stringWidth(title.upper(), BOLD, 1)))
    style = TITLE if size == 20 else ParagraphStyle("title-fit", parent=TITLE, fontSize=size, leading=size * 1.2)
    right = [p(title.upper(), style)] + [p(f"{label} {number}", SMALL_RIGHT) for label, number in lh.registrations]
    table = Table([[left, right]], colWidths=[WIDTH * 0.6, WIDTH * 0.4])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _cell(text: str, width: float, right: bool):
    """Plain text when it fits on one line (fast to lay out), a wrapping Paragraph when it does not (or when it
    needs the CJK font for some of its characters)."""
    return text if grid.fits(text, width) else p(text, RIGHT if right else BASE)


GRID_STYLE = grid.Style(INK, MUTED, ACCENT, RULE, ZEBRA)


def _grid(header, rows, widths, right, zebra=True, tints=None) -> grid.Grid:
    body = [[_cell(c, widths[i], i in right) for i, c in enumerate(row)] for row in rows]
    return grid.Grid(header, body, widths, right, GRID_STYLE, zebra, tints=tints)


def _pair_table(pairs, widths, bold_rows=(), right: bool | None = None) -> Table:
    right = right if right is not None else len(widths) == 2 and widths[1] < 2.5 * inch
    data = [[p(a, LABEL), p(b, RIGHT if right else BASE)] for a, b in pairs]
    table = Table(data, colWidths=widths)
    style = [
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    table.setStyle(TableStyle(style))
    return table


def _build(
    story,
    footer: str,
    draft: bool,
    title: str,
    author: str,
    center: str = "",
    words=None,
    created: dt.datetime | None = None,
) -> bytes:
    words = words or {}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.95 * inch,
        title=title,
        author=author,
        creator="OTB Billing",
        producer="OTB Billing (ReportLab)",
        subject=title,
        invariant=1,
    )
    mark = words.get("draft_mark", "DRAFT") if draft else ""
    doc.build(
        story, canvasmaker=_canvas_with(footer, center, words.get("page", "Page {page} of {total}"), mark, created)
    )
    return buffer.getvalue()


def invoice_pdf(view: InvoiceView, root: Path | None = None) -> bytes:
    story = [_letterhead(view.letterhead, view.title, root), Spacer(1, 0.25 * inch)]
    bill_to = [
        p(view.words.get("bill_to", "BILL TO"), LABEL),
        p(view.client_name, ParagraphStyle("cn", parent=BASE, fontName=BOLD, fontSize=10.5, leading=14)),
    ]
    bill_to += [p(line) for line in view.client_lines]
    label_width = min(2.0 * inch, max(1.15 * inch, max(stringWidth(label, BOLD, 8) for label, _ in view.meta) + 8))
    parties = Table(
        [[bill_to, _pair_table(view.meta, [label_width, 2.6 * inch], right=True)]],
        colWidths=[WIDTH - 2.6 * inch - label_width, 2.6 * inch + label_width],
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [parties, Spacer(1, 0.18 * inch)]
    story.append(
        _grid(view.summary_header, view.summary, [WIDTH - 3.3 * inch, 0.8 * inch, 1.15 * inch, 1.35 * inch], {1, 2, 3})
    )
    totals = [[p(label, RIGHT), p(value, RIGHT)] for label, value in view.totals]
    totals.append(
        [
            p(view.amount_due[0], ParagraphStyle("due", parent=RIGHT, fontName=BOLD, fontSize=11, leading=14)),
            p(view.amount_due[1], ParagraphStyle("dv", parent=RIGHT, fontName=BOLD, fontSize=11, leading=14)),
        ]
    )
    value_width = 2.0 * inch if any("(" in value for _, value in view.totals) else 1.35 * inch
    total_table = Table(totals, colWidths=[WIDTH - value_width, value_width])
    total_index = view.total_index
    total_table.setStyle(
        TableStyle(
            [
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEABOVE", (1, total_index), (1, total_index), 0.8, INK),
                ("FONTNAME", (0, total_index), (-1, total_index), BOLD),
                ("BACKGROUND", (0, len(totals) - 1), (-1, len(totals) - 1), ZEBRA),
                ("LINEABOVE", (0, len(totals) - 1), (-1, len(totals) - 1), 0.8, ACCENT),
            ]
        )
    )
    story += [Spacer(1, 0.08 * inch), KeepTogether(total_table), Spacer(1, 0.18 * inch)]
    for note in view.notes:
        story.append(p(note, SMALL))
    if view.instructions:
        story += [p(view.words.get("how_to_pay", "How to pay"), HEAD), p(view.instructions)]
    if view.appendix:
        story += [PageBreak(), p(view.words.get("details", f"Details of invoice {view.number}"), HEAD)]
        for section in view.appendix:
            story += [p(section.title, HEAD), _section_table(section)]
    return _build(
        story,
        f"{view.letterhead.name} · {view.title} {view.number}",
        view.draft,
        f"{view.title} {view.number}",
        view.letterhead.name,
        view.footer,
        view.words,
        view.created,
    )


def _section_table(section: Section) -> Table:
    if len(section.header) == 5:  # support tickets: ticket, dates, subject, hours, billable hours
        widths = [0.9 * inch, 1.75 * inch, WIDTH - 4.25 * inch, 0.8 * inch, 0.8 * inch]
    else:
        widths = [WIDTH - 3.3 * inch, 0.8 * inch, 1.15 * inch, 1.35 * inch]
    return _grid(section.header, section.rows, widths, set(section.right))


def statement_pdf(view: StatementView, root: Path | None = None) -> bytes:
    story = [_letterhead(view.letterhead, "Statement", root), Spacer(1, 0.25 * inch)]
    story += [
        p("STATEMENT FOR", LABEL),
        p(view.client_name, ParagraphStyle("cn", parent=BASE, fontName=BOLD, fontSize=10.5, leading=14)),
    ]
    story += [p(line) for line in view.client_lines]
    story += [
        Spacer(1, 0.1 * inch),
        p(f"Period: {view.period}. Amounts in {view.currency}.", SMALL),
        Spacer(1, 0.15 * inch),
    ]
    # the payments column is wide enough for its header, "Payments/credits"
    widths = [0.85 * inch, 1.2 * inch, WIDTH - 5.35 * inch, 1.0 * inch, 1.3 * inch, 1.0 * inch]
    tints = {(i, 5): OWING if balance > 0 else CREDIT if balance < 0 else ZERO_BAL
             for i, balance in enumerate(view.balances)}
    story.append(_grid(view.header, view.rows, widths, {3, 4, 5}, tints=tints))
    if view.aging:
        story += [
            p("Aging of the balance", HEAD),
            _grid(
                tuple(label for label, _ in view.aging),
                [tuple(v for _, v in view.aging)],
                [WIDTH / len(view.aging)] * len(view.aging),
                set(range(len(view.aging))),
                zebra=False,
            ),
        ]
    story += [
        Spacer(1, 0.2 * inch),
        p(
            f"Balance at the end of the period: {view.closing}",
            ParagraphStyle("cl", parent=BASE, fontName=BOLD, fontSize=11),
        ),
    ]
    return _build(
        story,
        f"{view.letterhead.name} · Statement for {view.client_name}",
        False,
        f"Statement {view.client_name}",
        view.letterhead.name,
        view.footer,
        created=view.created,
    )
