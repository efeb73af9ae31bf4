"""Where otb keeps a month's invoices in the ledger. Imports nothing heavy: `otb bill` needs it before Beancount."""

from __future__ import annotations

from pathlib import Path

from ..core.month import Month


def month_file(ledger: Path, month: Month) -> Path:
    """ledger/invoices/2024/2024-10.beancount"""
    return ledger / "invoices" / f"{month.year:04d}" / f"{month}.beancount"
