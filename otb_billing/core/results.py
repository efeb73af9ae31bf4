"""What billing computes: invoices with their lines and taxes, and a month's result; and what the ledger
remembers of earlier invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from .config import GROUP_OF_CATEGORY, GROUPS, PriceBook
from .errors import Problem
from .money import ZERO
from .month import Month

# --- Results ------------------------------------------------------------------------------------------------


class Line(NamedTuple):
    """One invoice line. amount == cents(quantity * rate), always (see core.money.line_amount)."""

    category: str  # users, workstations, ..., devices, backup, support, item:<name>, service:<code>
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    taxable: bool = True
    item: str = ""  # the QuickBooks Product/Service name

    @property
    def group(self) -> str:
        return GROUP_OF_CATEGORY.get(self.category, "line_items")


class TaxLine(NamedTuple):
    """One tax on an invoice: its name, rate, the base it applies to and the amount, rounded once."""

    name: str  # GST, HST, QST, PST, RST
    rate: Decimal  # percent
    base: Decimal
    amount: Decimal
    registration: str = ""
    province: str = ""


class TicketSummary(NamedTuple):
    """Hours of one ticket in the month, for the itemized detail."""

    ticket: str
    subject: str
    hours: Decimal
    billable_hours: Decimal
    dates: tuple[dt.date, ...] = ()  # the days its time was entered, in order


@dataclass(frozen=True, slots=True)
class Counts:
    """What was billed, counted (users, devices by type, backup TB), for the ledger and reports."""

    users: int = 0
    workstations: int = 0
    servers: int = 0
    vms: int = 0
    switches: int = 0
    firewalls: int = 0
    hours: Decimal = ZERO
    billable_hours: Decimal = ZERO
    prepaid_hours_used: Decimal = ZERO
    backup_tb: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Invoice:
    """One client's bill for one month: lines, taxes and totals; everything writers render from."""

    number: str
    account: str
    client: str
    month: Month
    date: dt.date
    due: dt.date
    currency: str
    plan: str
    term: str
    support_level: str
    lines: tuple[Line, ...]
    taxes: tuple[TaxLine, ...]
    counts: Counts
    notes: tuple[str, ...] = ()
    prepaid_monthly_used: Decimal = ZERO
    prepaid_yearly_used: Decimal = ZERO
    pool_year: int = 0
    tickets: tuple[TicketSummary, ...] = ()
    status: str = "draft"
    base_currency: str = ""  # set with fx_rate when the invoice is in another currency than the books
    fx_rate: Decimal | None = None  # base currency per unit of the invoice currency, on fx_date
    fx_date: dt.date | None = None
    prices: PriceBook | None = None  # the prices it was billed at (None: an adjustment, or issued before 0.2)
    # sums of the lines and taxes, added once here: writers ask for them many times per invoice
    _subtotal: Decimal = field(default=ZERO, init=False, repr=False, compare=False)
    _tax: Decimal = field(default=ZERO, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_subtotal", sum((line.amount for line in self.lines), ZERO))
        object.__setattr__(self, "_tax", sum((tax.amount for tax in self.taxes), ZERO))

    @property
    def foreign(self) -> bool:
        return self.fx_rate is not None

    def in_base(self, amount: Decimal) -> Decimal:
        """An amount of this invoice in the books' currency at its invoice-date rate, rounded half-up.

        The one conversion rule for totals and taxes everywhere (ledger, JSON, PDF)."""
        from .money import cents

        return cents(amount * self.fx_rate) if self.fx_rate is not None else amount

    @property
    def subtotal(self) -> Decimal:
        return self._subtotal

    @property
    def taxable_subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.taxable), ZERO)

    @property
    def tax(self) -> Decimal:
        return self._tax

    @property
    def total(self) -> Decimal:
        return self._subtotal + self._tax

    def group_totals(self) -> dict[str, Decimal]:
        totals = {group: ZERO for group in GROUPS}
        for line in self.lines:
            totals[line.group] += line.amount
        return totals


@dataclass(frozen=True, slots=True)
class PriorInvoice:
    """What the ledger remembers of an earlier invoice: enough for the prepaid pool and month-over-month."""

    number: str
    account: str
    month: Month
    total: Decimal
    pool_year: int
    prepaid_yearly_used: Decimal
    finalized: bool = False


@dataclass(frozen=True, slots=True)
class BillResult:
    """A month billed: its invoices, the problems found and the warnings to show."""

    month: Month
    invoices: tuple[Invoice, ...]
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    previous_totals: Mapping[str, Decimal] = field(default_factory=dict)
    credit_available: Mapping[str, Decimal] = field(default_factory=dict)  # unapplied credit on account

    def credit_applied(self, invoice: Invoice) -> Decimal:
        """Credit on the client's account that this invoice takes: never more than its total."""
        return max(min(self.credit_available.get(invoice.account, Decimal(0)), invoice.total), Decimal(0))
