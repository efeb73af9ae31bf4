"""The PDFs' line tables (invoice summary, itemized appendix, statement) drawn straight onto the canvas.

ReportLab's Platypus Table resolves a style for every cell of every row: for an appendix of 60 users and
devices that was about half the time of an invoice PDF. These grids have one look (bold muted header under an
accent rule, zebra rows, right-aligned number columns, a rule under the last row) and mostly one-line text, so
`Grid` lays them out itself with the same measures Table used (cell padding 6/2.5/6/3, leading 1.2 x the font
size, text on the first line's baseline), splits across pages with the header repeated, and hands a cell that
does not fit on one line (or needs the CJK font) to a wrapping Paragraph, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Flowable, Paragraph

from . import fonts
from .fonts import BOLD, REGULAR

LEFT_PAD = RIGHT_PAD = 6
TOP_PAD, BOTTOM_PAD = 2.5, 3
HEAD_SIZE, BODY_SIZE = 8, 9


class Style:
    """The colours of a grid (given by pdf.py, which owns the palette)."""

    def __init__(self, ink, muted, accent, rule, zebra) -> None:
        self.ink, self.muted, self.accent, self.rule, self.zebra = ink, muted, accent, rule, zebra


Cell: TypeAlias = str | Paragraph


class Grid(Flowable):
    """A header row and body rows of cells (text, or a Paragraph for text that wraps), in columns of fixed
    widths; `right`: the columns aligned right. Splits between rows, repeating the header."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[Cell]], widths: Sequence[float],
                 right: set[int], style: Style, zebra: bool = True, first: int = 0, tints: dict | None = None
                 ) -> None:
        super().__init__()
        self.header, self.rows, self.widths = list(header), list(rows), list(widths)
        self.right, self.style, self.zebra = right, style, zebra
        self.tints = tints or {}  # (body row of the whole table, column) -> text colour
        self.first = first  # the index of rows[0] in the whole table: zebra stripes continue across pages
        self.header_height = HEAD_SIZE * 1.2 + TOP_PAD + BOTTOM_PAD
        self.heights = [self._row_height(row) for row in self.rows]

    def _row_height(self, row: Sequence[Cell]) -> float:
        tallest = BODY_SIZE * 1.2
        for cell, width in zip(row, self.widths, strict=False):
            if isinstance(cell, Paragraph):
                tallest = max(tallest, cell.wrap(width - LEFT_PAD - RIGHT_PAD, 1e6)[1])
        return tallest + TOP_PAD + BOTTOM_PAD

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = sum(self.widths)
        self.height = self.header_height + sum(self.heights)
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        room = available_height - self.header_height
        fit = 0
        for height in self.heights:
            if room < height:
                break
            room -= height
            fit += 1
        if fit == 0 or fit == len(self.rows):
            return []
        return [Grid(self.header, self.rows[:fit], self.widths, self.right, self.style, self.zebra, self.first,
                     self.tints),
                Grid(self.header, self.rows[fit:], self.widths, self.right, self.style, self.zebra,
                     self.first + fit, self.tints)]

    def draw(self) -> None:
        canvas, style = self.canv, self.style
        total = sum(self.widths)
        lefts = [sum(self.widths[:i]) for i in range(len(self.widths))]
        top = self.height
        # the stripes first, then the text, then the rules (the order Table drew them in)
        if self.zebra:
            canvas.setFillColor(style.zebra)
            y = top - self.header_height
            for index, height in enumerate(self.heights):
                if (self.first + index) % 2 == 1:  # the 2nd, 4th... body row
                    canvas.rect(0, y - height, total, height, stroke=0, fill=1)
                y -= height
        writer = _TextWriter(canvas)
        self._text_row(writer, self.header, lefts, top, BOLD, HEAD_SIZE, style.muted, None)
        y = top - self.header_height
        for index, (row, height) in enumerate(zip(self.rows, self.heights, strict=True)):
            self._text_row(writer, row, lefts, y, REGULAR, BODY_SIZE, style.ink, self.first + index)
            y -= height
        writer.flush()
        canvas.setStrokeColor(style.accent)
        canvas.setLineWidth(0.8)
        canvas.line(0, top - self.header_height, total, top - self.header_height)
        if self.rows:
            canvas.setStrokeColor(style.rule)
            canvas.setLineWidth(0.5)
            canvas.line(0, y, total, y)

    def _text_row(self, writer: _TextWriter, row, lefts, row_top: float, font: str, size: float, color,
                  number: int | None) -> None:
        baseline = row_top - TOP_PAD - size
        for index, (cell, left, width) in enumerate(zip(row, lefts, self.widths, strict=False)):
            if isinstance(cell, Paragraph):
                writer.flush()
                _, h = cell.wrap(width - LEFT_PAD - RIGHT_PAD, 1e6)
                cell.drawOn(self.canv, left + LEFT_PAD, row_top - TOP_PAD - h)
            elif cell:
                tint = self.tints.get((number, index)) if number is not None else None
                x = (left + width - RIGHT_PAD - stringWidth(cell, font, size) if index in self.right
                     else left + LEFT_PAD)
                writer.text(x, baseline, cell, font, size, tint or color)


class _TextWriter:
    """The grid's plain cells as one PDF text object (BT ... ET) until a Paragraph has to be drawn in between:
    canvas.drawString made a text object, a font and a colour for every cell, which was most of a grid's time.
    Font and colour are set only when they change."""

    def __init__(self, canvas) -> None:
        self.canvas = canvas
        self.current: PDFTextObject | None = None
        self.font: tuple[str, float] | None = None
        self.color = None

    def text(self, x: float, y: float, cell: str, font: str, size: float, color) -> None:
        current = self.current
        if current is None:
            current = self.current = self.canvas.beginText()
            self.font = self.color = None
        if self.font != (font, size):
            current.setFont(font, size, size * 1.2)
            self.font = (font, size)
        if self.color is not color:
            current.setFillColor(color)
            self.color = color
        current.setTextOrigin(x, y)
        current.textOut(cell)

    def flush(self) -> None:
        if self.current is not None:
            self.canvas.drawText(self.current)
            self.current = None


def fits(text: str, width: float) -> bool:
    """Whether `text` goes in a grid cell as plain text: one line, every character in DejaVu."""
    if "\n" in text:
        return False
    if text.isascii() and len(text) * fonts.widest_ascii(REGULAR) * BODY_SIZE <= width - 8:
        return True  # fits even if every character were the widest: no need to measure (most cells)
    return fonts.covered(text) and stringWidth(text, REGULAR, BODY_SIZE) <= width - 8
