"""Canadian sales tax: an effective-dated rate table and the per-invoice computation.

Each tax is computed once per invoice on the taxable subtotal and rounded half-up to the cent (never per line).
GST, HST and QST are all computed on the pre-tax amount. Provincial taxes apply only when the business is
registered for them in settings; with no GST/HST registration nothing is charged at all (small supplier).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from .model import Client, Settings, TaxLine, TaxRule
from .money import cents

PROVINCES = ("AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT")
TAX_NAMES = ("GST", "HST", "QST", "PST", "RST")
REGISTRATIONS = ("GST/HST", "QST", "PST-BC", "PST-SK", "RST-MB")


def _rule(name, province, rate, registration, start=None, end=None) -> TaxRule:
    return TaxRule(name, province, Decimal(rate), registration, start, end)


DEFAULT_RULES: tuple[TaxRule, ...] = (
    _rule("HST", "ON", "13", "GST/HST"),
    _rule("HST", "NB", "15", "GST/HST"),
    _rule("HST", "NL", "15", "GST/HST"),
    _rule("HST", "PE", "15", "GST/HST"),
    _rule("HST", "NS", "15", "GST/HST", end=dt.date(2025, 3, 31)),
    _rule("HST", "NS", "14", "GST/HST", start=dt.date(2025, 4, 1)),
    *(_rule("GST", p, "5", "GST/HST") for p in ("AB", "BC", "MB", "SK", "QC", "NT", "NU", "YT")),
    _rule("QST", "QC", "9.975", "QST"),
    _rule("PST", "BC", "7", "PST-BC"),
    _rule("PST", "SK", "6", "PST-SK"),
    _rule("RST", "MB", "7", "RST-MB"),
)


def applicable_rules(rules: Sequence[TaxRule], province: str, day: dt.date) -> list[TaxRule]:
    """The rules in force for a province on a day, one per tax name; earlier rules in `rules` win.

    Settings rules are placed before the defaults, so a rate written in settings.yaml replaces the built-in
    one for the dates it covers.
    """
    chosen: dict[str, TaxRule] = {}
    for rule in rules:
        if rule.name not in chosen and rule.applies(province, day):
            chosen[rule.name] = rule
    return sorted(chosen.values(), key=lambda r: TAX_NAMES.index(r.name) if r.name in TAX_NAMES else 99)


def tax_situation(client: Client, settings: Settings) -> tuple[bool, str]:
    """(taxable?, the note printed on the invoice when not)."""
    if "GST/HST" not in settings.registrations:
        return False, ""
    if client.country != settings.local_country:
        return False, f"Zero-rated: services supplied to a client outside {settings.local_country}."
    if client.tax_exempt:
        return False, f"Tax exempt: {client.tax_exempt}"
    return True, ""


def compute_taxes(
    client: Client, settings: Settings, day: dt.date, taxable_subtotal: Decimal, all_rules: Iterable[TaxRule]
) -> tuple[tuple[TaxLine, ...], tuple[str, ...]]:
    """Taxes of one invoice and the notes to print."""
    taxable, note = tax_situation(client, settings)
    if not taxable:
        return (), ((note,) if note else ())
    lines = []
    for rule in applicable_rules(list(all_rules), client.province, day):
        registration = settings.registrations.get(rule.registration)
        if registration is None:
            continue
        amount = cents(taxable_subtotal * rule.rate / 100)
        lines.append(TaxLine(rule.name, rule.rate, taxable_subtotal, amount, registration, client.province))
    return tuple(lines), ()
