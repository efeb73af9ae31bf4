"""Invoice documents: draft PDFs in build/, final PDFs and their data in ledger/documents/, HTML views.

A finalized invoice's PDF is rendered once, from numbers checked against the ledger transaction, and stored with
a snapshot of its data (books/snapshot.py); everything shown later (HTML, email) comes from that snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from beancount.core import data

from ..books import accounts, postings, snapshot
from ..books.writer import quote
from ..core.model import Config, Counts, Invoice, Line, TaxLine
from ..core.money import ZERO
from ..core.month import Month
from ..render.parallel import render_all
from ..render.views import InvoiceView, Letterhead, invoice_view

DOCUMENTS_FILE = "documents.beancount"


@dataclass(frozen=True)
class Paper:
    """What goes on an invoice besides its numbers: letterhead, client address, terms. Stored with the snapshot."""

    letterhead: Letterhead
    client_lines: tuple[str, ...]
    emails: tuple[str, ...]
    terms_days: int
    instructions: str
    footer: str
    language: str = "en"

    @classmethod
    def of(cls, config: Config, invoice: Invoice) -> Paper:
        client = next((c for c in config.clients if c.account == invoice.account), None)
        lines = (client.address if client else ()) + (
            () if not client or client.country == config.settings.local_country else (client.country,)
        )
        language = client.language if client else "en"
        instructions, footer = _texts(config.settings, language)
        return cls(
            Letterhead.of(config.settings),
            tuple(lines),
            client.billing_emails if client else (),
            (invoice.due - invoice.date).days,
            instructions,
            footer,
            language,
        )

    def to_dict(self) -> dict:
        return {
            "letterhead": self.letterhead.to_dict(),
            "client_lines": list(self.client_lines),
            "emails": list(self.emails),
            "terms_days": self.terms_days,
            "instructions": self.instructions,
            "footer": self.footer,
            **({"language": self.language} if self.language != "en" else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Paper:
        return cls(
            Letterhead.from_dict(d["letterhead"]),
            tuple(d["client_lines"]),
            tuple(d["emails"]),
            d["terms_days"],
            d["instructions"],
            d["footer"],
            d.get("language", "en"),
        )


def _texts(settings, language: str) -> tuple[str, str]:
    """Payment instructions and footer in the client's language: the French ones for `fr`, both for `bilingual`
    (English first, joined by " / "), the English ones when no French is set."""
    pairs = [
        (settings.payment_instructions, settings.french.payment_instructions or settings.payment_instructions),
        (settings.footer, settings.french.footer or settings.footer),
    ]
    if language == "fr":
        return pairs[0][1], pairs[1][1]
    if language == "bilingual":
        both = [en if fr == en else f"{en} / {fr}" for en, fr in pairs]
        return both[0], both[1]
    return pairs[0][0], pairs[1][0]


def view_of(invoice: Invoice, paper: Paper, draft: bool, **amounts) -> InvoiceView:
    return invoice_view(
        invoice,
        paper.letterhead,
        paper.client_lines,
        terms_days=paper.terms_days,
        instructions=paper.instructions,
        footer=paper.footer,
        draft=draft,
        language=paper.language,
        **amounts,
    )


def _render(job: tuple) -> bytes:
    """One PDF, view and all, so that a worker process does the whole job (formatting money is not free)."""
    from ..render.pdf import invoice_pdf  # ReportLab and the fonts: loaded only by a run that draws a PDF

    invoice, paper, draft, credit, root, created = job
    return invoice_pdf(view_of(invoice, paper, draft, credit_applied=credit, created=created), Path(root))


PDF_KEYS = "pdf-keys.json"  # in build/MONTH/: what each DRAFT PDF there was rendered from


@lru_cache(maxsize=1)
def renderer_key() -> str:
    """What else decides a PDF's bytes: the code that draws it and the fonts (a change re-renders every draft)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for name in ("render/pdf.py", "render/views.py", "render/i18n.py", "render/moneyfmt.py", "render/fonts.py",
                 "core/summary.py", "jobs/invoice_pdfs.py"):
        digest.update((package / name).read_bytes())
    for font in sorted((package / "fonts").glob("*.ttf")):
        digest.update(f"{font.name}:{font.stat().st_size}".encode())
    return digest.hexdigest()


def _job_key(job: tuple) -> str:
    invoice, paper, draft, credit, _, created = job
    return hashlib.sha256(repr((renderer_key(), invoice, paper, draft, str(credit), created)).encode()).hexdigest()


def draft_pdfs(root: Path, config: Config, invoices, credit, progress=None, force: bool = False
               ) -> dict[Path, bytes]:
    """build/MONTH/<number>.pdf, DRAFT-watermarked, rendered on every core, for the invoices whose content (or
    the renderer) changed since their PDF there was made; and build/MONTH/pdf-keys.json, which records that.
    An unchanged invoice's PDF is left as it is. `progress(total)` is called first, then `progress()` per PDF."""
    jobs = [(inv, Paper.of(config, inv), True, credit(inv), str(root), None) for inv in invoices]
    keys: dict[Path, dict[str, str]] = {}
    todo = []
    for job in jobs:
        build = root / "build" / str(job[0].month)
        if build not in keys:
            try:
                keys[build] = json.loads((build / PDF_KEYS).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                keys[build] = {}
        key = _job_key(job)
        if force or keys[build].get(job[0].number) != key or not (build / f"{job[0].number}.pdf").is_file():
            keys[build][job[0].number] = key
            todo.append(job)
    if progress is not None:
        progress(len(todo))
    pdfs = render_all(_render, todo, progress=progress)
    files: dict[Path, bytes] = {}
    for job, pdf in zip(todo, pdfs, strict=True):
        files[root / "build" / str(job[0].month) / f"{job[0].number}.pdf"] = pdf
    for build, found in keys.items():
        present = {number: key for number, key in sorted(found.items())
                   if build / f"{number}.pdf" in files or (build / f"{number}.pdf").is_file()}
        files[build / PDF_KEYS] = (json.dumps(present, indent=1) + "\n").encode("utf-8")
    return files


def document_paths(ledger: Path, invoice: Invoice) -> tuple[Path, Path]:
    folder = ledger / "documents" / f"{invoice.date.year:04d}"
    return folder / f"{invoice.number}.pdf", folder / f"{invoice.number}.json"


def final_documents(
    root: Path, config: Config, invoices: list[Invoice], at: dt.datetime | None = None, progress=None
) -> tuple[dict[Path, bytes], list[str]]:
    """PDF and snapshot files of finalized invoices (dated `at`, when they are issued), and the `document`
    directives that point to them."""
    ledger = root / "ledger"
    files: dict[Path, bytes] = {}
    directives = []
    papers = [Paper.of(config, inv) for inv in invoices]
    jobs = [(inv, paper, False, ZERO, str(root), at) for inv, paper in zip(invoices, papers, strict=True)]
    if progress is not None:
        progress(len(jobs))
    pdfs = render_all(_render, jobs, progress=progress)
    for invoice, paper, pdf in zip(invoices, papers, pdfs, strict=True):
        pdf_path, json_path = document_paths(ledger, invoice)
        record = json.loads(snapshot.to_json(invoice))
        record["paper"] = paper.to_dict()
        files[json_path] = (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        files[pdf_path] = pdf
        directives.append(
            f"{invoice.date} document {accounts.receivable(invoice.account)} "
            f"{quote(pdf_path.relative_to(ledger).as_posix())} ^{invoice.number}\n"
            f"  sha256: {quote(hashlib.sha256(pdf).hexdigest())}\n"
        )
    return files, directives


def load_snapshot(ledger: Path, number: str, year: int) -> tuple[Invoice, Paper] | None:
    path = ledger / "documents" / f"{year:04d}" / f"{number}.json"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    return snapshot.from_json(text), Paper.from_dict(json.loads(text)["paper"])


def invoice_from_entry(entry: data.Transaction, month: Month) -> Invoice:
    """An invoice rebuilt from its ledger transaction alone (used for adjustment invoices): one line per income
    posting, taxes from the tax postings, in the invoice's own currency (`invoice_amount` on a foreign one)."""
    meta = entry.meta
    held = next(p for p in entry.postings if p.account.startswith(accounts.RECEIVABLE_ROOT + ":"))
    currency = postings.currency(held)
    lines, taxes = [], []
    for p in entry.postings:
        shown = (p.meta or {}).get("invoice_amount")
        amount = Decimal(str(shown).split()[0]) if shown else -postings.number(p)
        if p.account.startswith("Income:"):
            what = f"Adjustment to {meta['adjusts']}" if "adjusts" in meta else "Charges"
            lines.append(
                Line(
                    f"account:{p.account}",
                    f"{what}: {accounts.label(p.account)}",
                    Decimal(1),
                    amount,
                    amount,
                    True,
                    "Adjustment",
                )
            )
        elif p.account.startswith("Liabilities:Tax:"):
            pm = p.meta or {}
            taxes.append(
                TaxLine(
                    str(pm.get("tax", p.account.split(":")[-1])),
                    Decimal(str(pm.get("rate", "0"))),
                    Decimal(str(pm.get("base", "0"))),
                    amount,
                    str(pm.get("registration", "")),
                )
            )
    cost = held.cost
    due = meta.get("due")
    return Invoice(
        number=str(meta["invoice"]),
        account=str(meta.get("account", "")),
        client=entry.payee or "",
        month=month,
        date=entry.date,
        due=due if isinstance(due, dt.date) else entry.date,
        currency=currency,
        plan=str(meta.get("plan", "")),
        term=str(meta.get("term", "")),
        support_level=str(meta.get("support_level", "")),
        lines=tuple(lines),
        taxes=tuple(taxes),
        counts=Counts(),
        base_currency=(cost.currency or "") if cost else "",
        fx_rate=getattr(cost, "number_per", None) if cost else None,
        fx_date=cost.date if cost else None,
    )
