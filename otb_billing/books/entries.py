"""Beancount text for what happens after billing: sealing (finalizing) a document, payments, reversals and
credit notes. Every amount here comes from the caller; nothing is computed from the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..core.money import ZERO, cents, plain
from . import postings
from .accounts import FX_ACCOUNT, RECEIVABLE_ROOT, deposits, receivable
from .digest import entry_digest
from .writer import INDENT, posting, quote

if TYPE_CHECKING:
    from beancount.core import data

HEADER_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (!|\*|txn) ")


def parse_block(text: str) -> data.Transaction:
    from beancount.core import data
    from beancount.parser import parser

    entries, errors, _ = parser.parse_string(text)
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    if errors or len(txns) != 1:
        raise ValueError(f"not one transaction: {errors[0].message if errors else len(txns)}")
    return txns[0]


def seal(text: str, finalized_at: dt.datetime, document: str = "") -> str:
    """A draft's text made final: flag *, `finalized` (UTC) and `digest` metadata after the header line, and the
    issued PDF's file name as `document` (Fava's link_documents plugin shows it on the entry)."""
    entry = parse_block(text)
    digest = entry_digest(entry)
    lines = text.rstrip("\n").split("\n")
    index = next(i for i, line in enumerate(lines) if HEADER_RE.match(line))
    lines[index] = HEADER_RE.sub(lambda m: f"{m.group(1)} * ", lines[index], count=1)
    stamp = finalized_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines[index + 1 : index + 1] = [f"{INDENT}finalized: {quote(stamp)}", f"{INDENT}digest: {quote(digest)}"] + (
        [f"{INDENT}document: {quote(document)}"] if document else [])
    return "\n".join(lines) + "\n"


def _payment_head(ref, account, client, day, allocations, method, note) -> list[str]:
    """The header line and metadata of a payment, linked to every invoice it settles."""
    links = " ".join(f"^{number}" for number in sorted({n for n, _ in allocations}))
    narration = f"Payment {ref}" + (f" ({method})" if method else "") + (f": {note}" if note else "")
    lines = [f"{day} * {quote(client)} {quote(narration)}" + (f" {links}" if links else "")]
    lines.append(f"{INDENT}payment: {quote(ref)}")
    lines.append(f"{INDENT}account: {quote(account)}")
    if method:
        lines.append(f"{INDENT}method: {quote(method)}")
    return lines


@dataclass(frozen=True)
class PaymentEntry:
    """A payment received, as the ledger records it: who paid how much, when, how, into which bank account, and
    which invoices it settles (`allocations`: (invoice, amount); the rest is credit on account)."""

    ref: str
    account: str
    client: str  # the client's name, for the narration
    day: dt.date
    amount: Decimal  # in `currency`, the client's invoice currency
    allocations: tuple[tuple[str, Decimal], ...]
    bank: str
    currency: str
    method: str = ""
    note: str = ""


def render_payment(p: PaymentEntry) -> str:
    """A payment received in the books' own currency."""
    lines = _payment_head(p.ref, p.account, p.client, p.day, p.allocations, p.method, p.note)
    lines.append(posting(p.bank, p.amount, p.currency))
    allocated = ZERO
    for number, part in p.allocations:
        lines.append(posting(receivable(p.account), -part, p.currency))
        lines.append(f"{INDENT * 2}invoice: {quote(number)}")
        allocated += part
    account, amount, currency = p.account, p.amount, p.currency
    if amount - allocated:
        lines.append(posting(receivable(account), -(amount - allocated), currency))
        lines.append(f"{INDENT * 2}unapplied: TRUE")
    return "\n".join(lines) + "\n"


def _cost(number: Decimal, base: str, day, label: str) -> str:
    return f"{{{plain(number)} {base}, {day}, {quote(label)}}}"


def posting_text(p: data.Posting, negate: bool = False) -> str:
    """A parsed posting written back, cost and price included, optionally negated."""
    number = -postings.number(p) if negate else postings.number(p)
    suffix = ""
    if p.cost is not None:
        label = f", {quote(p.cost.label)}" if p.cost.label else ""
        suffix = f"{{{plain(postings.cost_per_unit(p))} {p.cost.currency}, {p.cost.date}{label}}}"
    if p.price is not None and p.price.number is not None:
        suffix += (" " if suffix else "") + f"@ {plain(p.price.number)} {p.price.currency}"
    return posting(p.account, number, postings.currency(p), suffix)


def render_foreign_payment(p: PaymentEntry, *, base: str, rate: Decimal, lots: dict) -> str:
    """A payment in the invoice currency, booked at the day's rate (`rate` of the books' currency `base`) against
    each invoice's lot (its rate then); the difference is the realized exchange gain or loss in Income:FX.
    `lots`: invoice -> (rate, date)."""
    ref, account, client, day, amount, allocations = p.ref, p.account, p.client, p.day, p.amount, p.allocations
    bank, currency, method, note = p.bank, p.currency, p.method, p.note
    lines = _payment_head(ref, account, client, day, allocations, method, note)
    lines.append(f"{INDENT}fx_rate: {plain(rate)}")
    lines.append(posting(bank, amount, currency, f"@ {plain(rate)} {base}"))
    difference = ZERO
    for number, part in allocations:
        lot_rate, lot_day = lots[number]
        lines.append(posting(receivable(account), -part, currency,
                             f"{_cost(lot_rate, base, lot_day, number)} @ {plain(rate)} {base}"))
        lines.append(f"{INDENT * 2}invoice: {quote(number)}")
        difference += part * (rate - lot_rate)
    allocated = sum((part for _, part in allocations), ZERO)
    if amount - allocated:
        # credit on account in the client's currency: a lot of its own at today's rate, applied later to the
        # client's next invoices by render_credit_application
        lines.append(posting(deposits(account), -(amount - allocated), currency, _cost(rate, base, day, "CR-" + ref)))
        lines.append(f"{INDENT * 2}unapplied: TRUE")
    if cents(difference):
        lines.append(posting(FX_ACCOUNT, -cents(difference), base))
    return "\n".join(lines) + "\n"


def render_credit_application(*, account: str, client: str, day: dt.date, invoice: str, invoice_lot, amount: Decimal,
                              credit_lots, currency: str, base: str) -> str:
    """Credit on account (foreign currency) used on an invoice: the deposit lots it comes from are closed, the
    invoice's lot is reduced, and the difference between their rates is a realized FX gain or loss.

    `invoice_lot` is (rate, date); `credit_lots` are (label, rate, date, amount) taken oldest first.
    """
    lines = [f"{day} * {quote(client)} {quote(f'Credit on account applied to {invoice}')} ^{invoice}",
             f"{INDENT}credit_application: {quote(invoice)}", f"{INDENT}account: {quote(account)}"]
    cost_in = ZERO
    for label, rate, lot_day, part in credit_lots:
        lines.append(posting(deposits(account), part, currency, _cost(rate, base, lot_day, label)))
        cost_in += part * rate
    lot_rate, lot_day = invoice_lot
    lines.append(posting(receivable(account), -amount, currency, _cost(lot_rate, base, lot_day, invoice)))
    lines.append(f"{INDENT * 2}invoice: {quote(invoice)}")
    gain = cents(cost_in - amount * lot_rate)  # the credit came in worth more (or less) than the invoice's lot
    if gain:
        lines.append(posting(FX_ACCOUNT, -gain, base))
    return "\n".join(lines) + "\n"


def reversal_of(entry: data.Transaction, ref: str, day: dt.date, note: str = "") -> str:
    """The entry that undoes a payment: the same postings negated, linked to the same invoices."""
    meta = entry.meta
    narration = f"Reversal of payment {meta['payment']}" + (f": {note}" if note else "")
    links = "".join(f" ^{link}" for link in sorted(entry.links or ()))
    lines = [f"{day} * {quote(entry.payee or '')} {quote(narration)}{links}"]
    lines.append(f"{INDENT}payment: {quote(ref)}")
    lines.append(f"{INDENT}account: {quote(str(meta.get('account', '')))}")
    lines.append(f"{INDENT}reverses: {quote(str(meta['payment']))}")
    for p in entry.postings:
        lines.append(posting_text(p, negate=True))
        if p.meta and "invoice" in p.meta:
            lines.append(f"{INDENT * 2}invoice: {quote(str(p.meta['invoice']))}")
        if p.meta and p.meta.get("unapplied"):
            lines.append(f"{INDENT * 2}unapplied: TRUE")
    return "\n".join(lines) + "\n"


def credit_postings(invoice: data.Transaction, earlier: list, amount: Decimal, full: bool):
    """(account, amount, currency) reversing the invoice's income and tax in proportion to `amount`.

    Each share is rounded half-up; the cents left over by rounding go to the largest posting, so the shares add
    up to `amount` exactly. `full` reverses exactly what earlier credit notes (`earlier`) left of each posting,
    so a series of credits ends with every income and tax account back at zero for this invoice.
    """
    remaining: dict[tuple[str, str], Decimal] = {}
    for p in invoice.postings:
        if not p.account.startswith(RECEIVABLE_ROOT + ":"):
            key = (p.account, postings.currency(p))
            remaining[key] = remaining.get(key, ZERO) - postings.number(p)
    if full:
        for note in earlier:
            for p in note.postings:
                key = (p.account, postings.currency(p))
                if key in remaining:
                    remaining[key] -= postings.number(p)
        return [(a, v, c) for (a, c), v in remaining.items() if v]
    total = sum(remaining.values(), ZERO)
    shares = [(a, cents(v * amount / total), c) for (a, c), v in remaining.items()]
    diff = amount - sum((s[1] for s in shares), ZERO)
    if diff:
        largest = max(range(len(shares)), key=lambda i: (abs(shares[i][1]), -i))
        account, value, currency = shares[largest]
        shares[largest] = (account, value + diff, currency)
    return [s for s in shares if s[1]]


def render_credit_note(
    *, number: str, invoice: data.Transaction, earlier: list, day: dt.date, amount: Decimal, full: bool,
    reason: str, from_lot: Decimal | None = None,
) -> str:
    """A credit note (draft text; seal it to issue it). `amount` includes tax and lowers the client's balance.

    On a foreign-currency invoice, `from_lot` is how much of the invoice's receivable lot is still open to take;
    the rest of the credit (the invoice was already paid) becomes credit on account, a deposit lot at the
    invoice's rate, which the client's next invoices use.
    """
    meta = invoice.meta
    invoice_number = str(meta["invoice"])
    account = str(meta.get("account", ""))
    narration = f"Credit note {number} on {invoice_number}" + (f": {reason}" if reason else "")
    lines = [f"{day} * {quote(invoice.payee or '')} {quote(narration)} ^{invoice_number} ^{number}"]
    lines.append(f"{INDENT}credit_note: {quote(number)}")
    lines.append(f"{INDENT}credits: {quote(invoice_number)}")
    lines.append(f"{INDENT}account: {quote(account)}")
    lines.append(f"{INDENT}reason: {quote(reason)}")
    if full:
        lines.append(f"{INDENT}full: TRUE")
    held = next(p for p in invoice.postings if p.account.startswith(RECEIVABLE_ROOT + ":"))
    cost = held.cost
    if cost is not None:  # a foreign-currency invoice: income and tax back at the invoice's own rate
        rate = postings.cost_per_unit(held)
        base_amount = cents(amount * rate)
    else:
        base_amount = amount
    reversed_ = credit_postings(invoice, earlier, base_amount, full)
    for acct, value, currency in reversed_:
        lines.append(posting(acct, value, currency))
    if cost is None:
        lines.append(posting(receivable(account), -amount, postings.currency(held)))
        lines.append(f"{INDENT * 2}invoice: {quote(invoice_number)}")
        return "\n".join(lines) + "\n"
    lot_part = amount if from_lot is None else min(amount, max(ZERO, from_lot))
    if lot_part:
        lines.append(posting(receivable(account), -lot_part, postings.currency(held),
                             _cost(rate, postings.cost_currency(held), cost.date, cost.label or "")))
        lines.append(f"{INDENT * 2}invoice: {quote(invoice_number)}")
    if amount - lot_part:
        lines.append(posting(deposits(account), -(amount - lot_part), postings.currency(held),
                             _cost(rate, postings.cost_currency(held), day, "CR-" + number)))
        lines.append(f"{INDENT * 2}unapplied: TRUE")
    # a full credit reverses what each income and tax posting has left, each a sum of amounts rounded to the cent;
    # what that differs from the units at the invoice's rate by is a rounding difference of exchange
    rounding = cents(sum((value for _, value, _ in reversed_), ZERO) - amount * rate)
    if rounding:
        lines.append(posting(FX_ACCOUNT, -rounding, postings.cost_currency(held)))
    return "\n".join(lines) + "\n"
