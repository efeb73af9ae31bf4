"""The billing core's data types, by meaning: core/config.py (settings, catalog, plans, clients), core/inputs.py
(the month's export rows), core/results.py (invoices, lines, a month's result, earlier invoices). This module
names them all, so `from ..core.model import Invoice` keeps working wherever it is written.

All immutable: an invoice computed once is never changed, only rendered. Money and quantities are Decimal.
Types made by the hundred thousand (export rows, invoice lines) are NamedTuples, which are several times
cheaper to create than frozen dataclasses; the rest are frozen dataclasses.
"""

from .config import (  # noqa: F401
    ASSET_KINDS,
    DEVICE_PLURALS,
    DEVICE_TYPES,
    FLAG_RATE_KEYS,
    GROUP_OF_CATEGORY,
    GROUPS,
    LANGUAGES,
    MONEY_RATE_KEYS,
    QUANTITY_RATE_KEYS,
    RATE_KEYS,
    SUPPORT_LEVELS,
    USER_KINDS,
    AssetOverride,
    Business,
    Client,
    Config,
    Discount,
    French,
    LineItem,
    ManualAsset,
    ManualUser,
    Plan,
    Prepaid,
    PriceBook,
    QuickBooks,
    RateChange,
    Rates,
    Service,
    Settings,
    Smtp,
    TaxRule,
    UserOverride,
    rates_at,
)
from .inputs import (  # noqa: F401
    AssetRow,
    Exports,
    Inventory,
    TimeRow,
    UsageRow,
    UserRow,
)
from .results import (  # noqa: F401
    BillResult,
    Counts,
    Invoice,
    Line,
    PriorInvoice,
    TaxLine,
    TicketSummary,
)
