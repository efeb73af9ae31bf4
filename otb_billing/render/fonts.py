"""The PDFs' fonts: DejaVu Sans, shipped inside the package and embedded (subset) in every PDF, so a client named
`Acme Łódź Ğrup` prints as written on any machine, and the same invoice gives the same bytes everywhere (a system
font would differ by version from machine to machine).

DejaVu covers Latin, Greek, Cyrillic, Arabic, Hebrew and much more, but not Chinese, Japanese or Korean: runs of
those characters are set in ReportLab's built-in Adobe CID font (HeiseiKakuGo-W5), which is not embedded: the text
is right (copy, search, read back), and PDF viewers draw it with their Asian fonts (Acrobat, Chrome, macOS
Preview do; a viewer without any shows boxes). See docs/DECISIONS.md, "PDF fonts".
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from xml.sax.saxutils import escape

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

REGULAR, BOLD, OBLIQUE = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"
CJK = "HeiseiKakuGo-W5"
FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", OBLIQUE: "DejaVuSans-Oblique.ttf"}


@lru_cache(maxsize=1)
def register() -> frozenset[int]:
    """Register the fonts with ReportLab (once per process); the code points DejaVu has a glyph for."""
    folder = resources.files("otb_billing") / "fonts"
    for name, file in FILES.items():
        with resources.as_file(folder / file) as path:
            font = TTFont(name, str(path))
            _keep_subsets(font.face)
            _split_ascii_at_once(font)
            pdfmetrics.registerFont(font)
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, OBLIQUE)
    addMapping(REGULAR, 1, 1, BOLD)
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return frozenset(pdfmetrics.getFont(REGULAR).face.charToGlyph)


class _KeptFlate(pdfdoc.PDFStreamFilterZCompress):
    """ReportLab's Flate filter, keeping its output for the last few inputs (by their bytes)."""

    def __init__(self, keep: int = 8) -> None:
        self._kept: dict[bytes, bytes] = {}
        self._keep = keep

    def encode(self, text):
        found = self._kept.get(text)
        if found is None:
            found = super().encode(text)
            if len(self._kept) >= self._keep:
                self._kept.pop(next(iter(self._kept)))
            self._kept[text] = found
        return found


def _keep_subsets(face) -> None:
    """Make and compress each font subset once per process instead of once per PDF.

    Every invoice written in ASCII uses the same subset of each font (ReportLab keeps ASCII at its own codes), so
    the embedded font is the same 35 KB in nearly every PDF; making and compressing it was a seventh of a draft's
    time. The bytes written are ReportLab's own (test_documents compares them with an unkept run)."""
    make, add = face.makeSubset, face.addSubsetObjects
    subset_bytes = lru_cache(maxsize=8)(lambda subset: make(list(subset)))
    flate = _KeptFlate()

    def add_subset(doc, fontname, subset):
        found = add(doc, fontname, subset)  # calls face.makeSubset: the kept one below
        stream = doc.idToObject.get(f"fontFile:{face.filename}({fontname})")  # ReportLab's name for the font file
        if stream is not None and stream.filters == [pdfdoc.PDFZCompress]:
            stream.filters = [flate]
        return found

    face.makeSubset = lambda subset: subset_bytes(tuple(subset))
    face.addSubsetObjects = add_subset


def _split_ascii_at_once(font: TTFont) -> None:
    """Printable ASCII text without ReportLab's per-character loop in `splitString`.

    ReportLab keeps printable ASCII at its own codes in subset 0 of every document (its "ASCII readable" mode),
    so such a string splits into [(0, its ASCII bytes)] once the document's font state exists; most of an
    invoice's strings are that. Anything else, or a document whose state is not made yet, goes through
    ReportLab's own code (test_documents compares the bytes with it)."""
    if not font._asciiReadable or not all(code in font.face.charToGlyph for code in range(32, 127)):
        return
    split = font.splitString

    def split_string(text, doc, encoding="utf-8"):
        if isinstance(text, str) and text and text.isascii() and text.isprintable() and doc in font.state:
            return [(0, text.encode("ascii"))]
        return split(text, doc, encoding)

    font.splitString = split_string


@lru_cache(maxsize=4)
def widest_ascii(font: str) -> float:
    """The widest advance of any ASCII character in `font`, at a size of 1 point."""
    return max(pdfmetrics.stringWidth(chr(code), font, 1) for code in range(128))


def covered(text: str) -> bool:
    """True when every character of `text` has a DejaVu glyph (or is a control character the layout drops)."""
    if text.isascii():  # nearly every string of an invoice: DejaVu has all of ASCII
        return True
    glyphs = register()
    return all(ord(ch) in glyphs or ord(ch) < 32 for ch in text)


def runs(text: str) -> list[tuple[bool, str]]:
    """`text` cut into (covered by DejaVu, chunk) runs."""
    if covered(text):
        return [(True, text)] if text else []
    glyphs = register()
    out: list[tuple[bool, str]] = []
    for ch in text:
        ok = ord(ch) in glyphs or ord(ch) < 32
        if out and out[-1][0] == ok:
            out[-1] = (ok, out[-1][1] + ch)
        else:
            out.append((ok, ch))
    return out


def markup(text: str) -> str:
    """Paragraph markup for plain `text`: escaped, with runs DejaVu lacks set in the CJK font."""
    if covered(text):
        return escape(text)
    return "".join(escape(chunk) if ok else f'<font face="{CJK}">{escape(chunk)}</font>' for ok, chunk in runs(text))


def width(text: str, font: str, size: float) -> float:
    """The width of `text` as `draw` sets it."""
    return sum(pdfmetrics.stringWidth(chunk, font if ok else CJK, size) for ok, chunk in runs(text))


def draw(canvas, x: float, y: float, text: str, font: str, size: float, align: str = "left") -> None:
    """canvas.drawString for any text: left, right or centre aligned at x."""
    total = width(text, font, size)
    start = {"left": x, "right": x - total, "centre": x - total / 2}[align]
    for ok, chunk in runs(text):
        face = font if ok else CJK
        canvas.setFont(face, size)
        canvas.drawString(start, y, chunk)
        start += pdfmetrics.stringWidth(chunk, face, size)
