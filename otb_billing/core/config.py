"""What the billing admin configures: settings, the service catalog, plans with their rates over time, and
clients with their overrides (readers/ make these from the YAML files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from .errors import Source
from .money import ZERO
from .month import Month
from .pickled import by_fields

DEVICE_TYPES = ("workstation", "server", "vm", "switch", "firewall")
DEVICE_PLURALS = {
    "workstation": "workstations",
    "server": "servers",
    "vm": "vms",
    "switch": "switches",
    "firewall": "firewalls",
}
MONEY_RATE_KEYS = (
    "per_user",
    "per_workstation",
    "per_server",
    "per_vm",
    "per_switch",
    "per_firewall",
    "per_hour",
    "backup_base_workstation",
    "backup_base_server",
    "backup_per_tb",
)
QUANTITY_RATE_KEYS = ("backup_included_tb",)
FLAG_RATE_KEYS = ("backup_included_per_device",)
RATE_KEYS = MONEY_RATE_KEYS + QUANTITY_RATE_KEYS + FLAG_RATE_KEYS
SUPPORT_LEVELS = ("hourly", "flat")
USER_KINDS = ("paid", "free", "custom")
ASSET_KINDS = DEVICE_TYPES + ("custom", "no_charge")

# Invoice line categories, grouped into the five totals the JSON and the seed's snapshot report.
GROUP_OF_CATEGORY = {
    "users": "users",
    **{plural: "assets" for plural in DEVICE_PLURALS.values()},
    "devices": "assets",
    "backup": "backup",
    "support": "tickets",
    "fx_fee": "line_items",
    "discount": "line_items",
}
GROUPS = ("users", "assets", "backup", "tickets", "line_items")


@by_fields
@dataclass(frozen=True, slots=True)
class Rates:
    """Effective rates of a plan term, possibly overridden by a client. A rate left out is 0."""

    values: Mapping[str, Decimal]
    backup_included_per_device: bool = False

    def __getitem__(self, key: str) -> Decimal:
        return self.values.get(key, ZERO)

    def overridden(self, values: Mapping[str, Decimal], per_device: bool | None) -> Rates:
        merged = dict(self.values)
        merged.update(values)
        flag = self.backup_included_per_device if per_device is None else per_device
        return Rates(merged, flag)


class RateChange(NamedTuple):
    """Rates that apply from a month on (`start` None: from the beginning): only the keys it names change."""

    start: Month | None
    values: Mapping[str, Decimal]
    per_device: bool | None = None


def rates_at(changes: tuple[RateChange, ...], month: Month, base: Rates | None = None) -> Rates:
    """The rates in force for `month`: every change that started on or before it, in order, over `base`."""
    rates = base or Rates({})
    for change in changes:
        if change.start is None or change.start <= month:
            rates = rates.overridden(change.values, change.per_device)
    return rates


@by_fields
@dataclass(frozen=True, slots=True)
class PriceBook:
    """The prices an invoice was billed at: its effective rates (plan term, client overrides, converted to the
    invoice currency), the catalog rates of the services it billed, and the currency conversion fee. Stored with
    a finalized invoice, so billing its month again later compares quantities, not a price change since."""

    rates: Rates
    services: Mapping[str, Decimal] = field(default_factory=dict)
    conversion_fee_pct: Decimal = Decimal(0)


@by_fields
@dataclass(frozen=True, slots=True)
class Plan:
    """A plan from plans/*.yaml: its terms ("1 Year", ...) each with its rates over time."""

    name: str
    support_level: str
    terms: Mapping[str, tuple[RateChange, ...]]  # each term's rates, changing from the months given
    source: Source
    proration: str = ""  # "daily": a contract starting or ending mid-month pays that month by the day


@by_fields
@dataclass(frozen=True, slots=True)
class Business:
    """The MSP itself, as its invoices show it (settings.yaml `business:`)."""

    name: str
    email: str = ""
    phone: str = ""
    website: str = ""
    address: tuple[str, ...] = ()
    province: str = ""
    country: str = "CA"
    tagline: str = ""
    logo: str = ""  # an image file, relative to the billing repo
    registration: str = ""  # a business number to print, if any


@by_fields
@dataclass(frozen=True, slots=True)
class Smtp:
    """How invoices are emailed. The password is never in settings: it comes from `password_env` or
    `password_file` (outside the repo)."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""
    password_env: str = "OTB_SMTP_PASSWORD"
    password_file: str = ""
    from_address: str = ""
    from_name: str = ""
    bcc: tuple[str, ...] = ()
    timeout: int = 30


@by_fields
@dataclass(frozen=True, slots=True)
class QuickBooks:
    """How the QuickBooks Online import files are written (render/quickbooks.py)."""

    date_format: str = "%d/%m/%Y"  # QuickBooks Online Canada's regional default, dd/MM/yyyy
    tax_codes: Mapping[str, str] = field(default_factory=dict)  # otb's default code -> the company's code name
    location: str = ""  # QuickBooks "Location", if the company tracks them


@by_fields
@dataclass(frozen=True, slots=True)
class TaxRule:
    """One row of the effective-dated tax table: `name` at `rate` percent in `province` from start to end."""

    name: str
    province: str
    rate: Decimal
    registration: str
    start: dt.date | None = None
    end: dt.date | None = None

    def applies(self, province: str, day: dt.date) -> bool:
        return (
            self.province == province
            and (self.start is None or self.start <= day)
            and (self.end is None or day <= self.end)
        )


@by_fields
@dataclass(frozen=True, slots=True)
class French:
    """The footer and payment instructions of French invoices (settings `invoice.footer: {en: ..., fr: ...}`);
    empty: the English ones are used."""

    footer: str = ""
    payment_instructions: str = ""


@by_fields
@dataclass(frozen=True, slots=True)
class Settings:
    """Everything in settings.yaml. The defaults here are the only ones: readers/settings.py reads a missing key
    as the value below (README, "settings.yaml", lists them)."""

    business: Business
    currency: str = "CAD"
    timezone: str = "America/Toronto"
    terms_days: int = 30
    invoice_number: str = "{account}-{year}{month:02d}"  # the template of invoice numbers
    number_format: str = "1,234.56"  # how numbers are written in exports and bank files (core.money.NUMBER_FORMATS)
    footer: str = ""
    registrations: Mapping[str, str] = field(default_factory=dict)
    local_country: str = "CA"
    asset_types: Mapping[str, str] = field(default_factory=dict)
    tax_rules: tuple[TaxRule, ...] = ()
    bank_account: str = "Assets:Bank:Operating"
    bank_accounts: Mapping[str, str] = field(default_factory=dict)  # currency -> bank account for it
    conversion_fee_pct: Decimal = Decimal(0)
    payment_instructions: str = ""
    french: French = French()  # the invoice texts above, for French clients
    smtp: Smtp = Smtp()
    reminder_interval_days: int = 7
    bank_csv: Mapping[str, str] = field(default_factory=dict)  # role (date, amount, ...) -> column name
    quickbooks: QuickBooks = QuickBooks()


@by_fields
@dataclass(frozen=True, slots=True)
class Service:
    """A billable service from services.yaml, used by clients' line items (`service: CONSULT`)."""

    code: str
    name: str
    rate: Decimal
    unit: str
    taxable: bool
    source: Source


@by_fields
@dataclass(frozen=True, slots=True)
class UserOverride:
    """A client file's word on one user of the exports: paid, free, or a custom rate."""

    kind: str  # paid | free | custom
    rate: Decimal | None
    source: Source


@by_fields
@dataclass(frozen=True, slots=True)
class AssetOverride:
    """A client file's word on one device of the exports: its type, a custom rate, or no charge."""

    kind: str  # a device type | custom | no_charge
    rate: Decimal | None
    source: Source


@by_fields
@dataclass(frozen=True, slots=True)
class ManualUser:
    """A user written in the client file rather than found in the exports."""

    name: str
    kind: str
    rate: Decimal | None
    notes: str
    source: Source


@by_fields
@dataclass(frozen=True, slots=True)
class ManualAsset:
    """A device written in the client file rather than found in the exports."""

    hostname: str
    kind: str
    rate: Decimal | None
    notes: str
    backup_tb: Decimal
    source: Source


@by_fields
@dataclass(frozen=True, slots=True)
class LineItem:
    """A charge written in the client file: monthly, one_off, yearly, or a catalog service."""

    kind: str  # monthly | one_off | yearly | service
    name: str
    description: str
    rate: Decimal | None  # None: a service item priced from the catalog
    quantity: Decimal
    source: Source
    month: Month | None = None  # one_off, and a service item for one month
    month_number: int | None = None  # yearly
    start: Month | None = None  # monthly and recurring service: `from`
    until: Month | None = None
    service: str = ""
    taxable: bool | None = None  # None: the service's setting, or taxable

    def due_in(self, month: Month) -> bool:
        if self.kind == "one_off":
            return self.month == month
        if self.kind == "yearly":
            return self.month_number == month.month
        if self.month is not None:
            return self.month == month
        return (self.start is None or self.start <= month) and (self.until is None or month <= self.until)


@by_fields
@dataclass(frozen=True, slots=True)
class Discount:
    """A percentage or an amount off some categories of a client's invoices (or all), from/until a month."""

    name: str
    percent: Decimal | None
    amount: Decimal | None
    on: tuple[str, ...]  # users, devices, workstations, ..., backup, support, line_items; empty: the whole invoice
    source: Source
    start: Month | None = None
    until: Month | None = None

    def applies(self, month: Month) -> bool:
        return (self.start is None or self.start <= month) and (self.until is None or month <= self.until)


LANGUAGES = ("en", "fr", "bilingual")  # English, French (Quebec usage), both on one document


@by_fields
@dataclass(frozen=True, slots=True)
class Prepaid:
    """A client's prepaid support hours: a monthly allowance and a yearly pool."""

    monthly: Decimal = ZERO
    yearly: Decimal = ZERO
    year_starts_month: int = 1


@by_fields
@dataclass(frozen=True, slots=True)
class Client:
    """One client file (clients/*.yaml): who is billed, on which plan and term, with what overrides."""

    account: str
    name: str
    plan: str
    term: str
    source: Source
    billing_emails: tuple[str, ...] = ()
    address: tuple[str, ...] = ()
    province: str = ""
    country: str = "CA"
    support_level: str | None = None
    terms_days: int | None = None
    start: Month | None = None
    end: Month | None = None
    tax_exempt: str = ""
    currency: str = ""  # the invoice currency; "" means the base currency of settings
    rates: tuple[RateChange, ...] = ()  # overrides of the plan's rates, changing from the months given
    prepaid: Prepaid = Prepaid()
    user_overrides: Mapping[str, UserOverride] = field(default_factory=dict)
    asset_overrides: Mapping[str, AssetOverride] = field(default_factory=dict)
    manual_users: tuple[ManualUser, ...] = ()
    manual_assets: tuple[ManualAsset, ...] = ()
    line_items: tuple[LineItem, ...] = ()
    match: tuple[str, ...] = ()  # other names the client has in RMM/PSA exports (organization, site, company)
    discounts: tuple[Discount, ...] = ()
    proration: str | None = None  # "daily" or "none"; None: the plan's
    start_day: dt.date | None = None  # the contract's first day, when it is not the first of its month
    end_day: dt.date | None = None  # the contract's last day, when it is not the last of its month
    language: str = "en"  # of its invoices and emails: one of LANGUAGES

    def in_contract(self, month: Month) -> bool:
        return (self.start is None or self.start <= month) and (self.end is None or month <= self.end)


@by_fields
@dataclass(frozen=True, slots=True)
class Config:
    """Everything a billing repo's YAML says: settings, plans by name, clients, services by code."""

    settings: Settings
    plans: Mapping[str, Plan]
    clients: tuple[Client, ...]
    services: Mapping[str, Service]

    def currency_of(self, client: Client) -> str:
        return client.currency or self.settings.currency

    def bank_for(self, currency: str) -> str:
        if currency == self.settings.currency:
            return self.settings.bank_account
        return self.settings.bank_accounts.get(currency, f"Assets:Bank:{currency}")
