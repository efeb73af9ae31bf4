"""Names of the ledger accounts an invoice posts to. One place, so the writer and the readers agree."""

from __future__ import annotations

import re

from ..core.model import TaxLine

RECEIVABLE_ROOT = "Assets:Receivable"
CATEGORY_ACCOUNTS = {
    "users": "Income:Managed:Users",
    "workstations": "Income:Managed:Workstations",
    "servers": "Income:Managed:Servers",
    "vms": "Income:Managed:VMs",
    "switches": "Income:Managed:Switches",
    "firewalls": "Income:Managed:Firewalls",
    "devices": "Income:Managed:Devices",
    "backup": "Income:Backup",
    "support": "Income:Support",
    "fx_fee": "Income:FX-Fees",
    "discount": "Income:Discounts",
}
FX_ACCOUNT = "Income:FX"  # realized exchange gains (negative) and losses (positive) on foreign payments
CATEGORY_ORDER = list(CATEGORY_ACCOUNTS)


def receivable(account: str) -> str:
    """`Assets:Receivable:620547`; client accounts are letters, digits and '-', upper-cased here."""
    return f"{RECEIVABLE_ROOT}:{account.upper()}"


DEPOSITS_ROOT = "Liabilities:Deposits"


def deposits(account: str) -> str:
    """Where a client's credit on account in a foreign currency is held, as lots at the rate it came in."""
    return f"{DEPOSITS_ROOT}:{account.upper()}"


def _component(text: str) -> str:
    """A valid account component from free text: `SSL Certificate Renewal` -> `SSLCertificateRenewal`."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return name or "Other"


def income(category: str) -> str:
    if category in CATEGORY_ACCOUNTS:
        return CATEGORY_ACCOUNTS[category]
    kind, _, name = category.partition(":")
    if kind == "account":  # an adjustment line posts to the account of the line it adjusts
        return name
    if kind == "service":
        return f"Income:Services:{_component(name)}"
    return f"Income:LineItems:{_component(name)}"


def tax(line: TaxLine) -> str:
    """`Liabilities:Tax:HST`; provincial sales taxes per province: `Liabilities:Tax:PST-BC`."""
    if line.name in ("PST", "RST"):
        return f"Liabilities:Tax:{line.name}-{line.province}"
    return f"Liabilities:Tax:{line.name}"


ACCOUNT_LABELS = {
    "Income:Managed:Users": "Users", "Income:Managed:Workstations": "Workstations",
    "Income:Managed:Servers": "Servers", "Income:Managed:VMs": "Virtual machines",
    "Income:Managed:Switches": "Switches", "Income:Managed:Firewalls": "Firewalls",
    "Income:Managed:Devices": "Devices (custom rate)", "Income:Backup": "Backup", "Income:Support": "Support hours",
    "Income:FX-Fees": "Currency conversion fee", "Income:Discounts": "Discounts",
}


def label(account: str) -> str:
    """What an income account's charges are called on an invoice: `Income:LineItems:CloudHosting` -> CloudHosting."""
    return ACCOUNT_LABELS.get(account, account.rsplit(":", 1)[-1])
