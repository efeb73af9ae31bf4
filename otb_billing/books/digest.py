"""The digest of an issued document: a hash of its parsed content, so a hand edit of the text is detected.

Computed from Beancount's parsed entry, not from the text, so re-formatting (alignment, blank lines) does not
change it while any change of a date, payee, amount, account or metadata value does. The flag and the
`finalized`/`digest` metadata themselves are left out: they are what finalizing adds.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beancount.core import data

SKIPPED_META = {"filename", "lineno", "finalized", "digest", "document"}  # document: added with the PDF


def _meta(meta) -> list[str]:
    return [f"{key}={value!s}" for key, value in sorted((meta or {}).items()) if key not in SKIPPED_META
            and not key.startswith("__")]


def _cost(cost) -> str:
    """A posting's cost the same whether parsed (CostSpec) or booked (Cost)."""
    if cost is None:
        return "None"  # as digests made before foreign currencies wrote it
    number = getattr(cost, "number", None)
    if number is None:
        number = getattr(cost, "number_per", None)
    return f"{{{number} {cost.currency} {cost.date} {cost.label}}}"


def entry_digest(entry: data.Transaction) -> str:
    parts = [
        str(entry.date),
        entry.payee or "",
        entry.narration or "",
        " ".join(sorted(link for link in entry.links or () if not link.startswith("dok-"))),  # Fava's own links
        " ".join(sorted(entry.tags or ())),
        *_meta(entry.meta),
    ]
    for posting in entry.postings:
        parts.append(f"{posting.account} {posting.units} {_cost(posting.cost)} {posting.price}")
        parts.extend("  " + m for m in _meta(posting.meta))
    return "sha256:" + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]
