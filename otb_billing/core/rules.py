"""Billing rules: one pure function per charge kind, and `bill_client` that puts an invoice together.

Nothing here reads a file or the clock. Problems found while billing (an asset type nobody knows, a service
missing from the catalog) are appended to the `problems` list the caller passes in, with their source.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from .adjustments import discount_lines, prorate
from .errors import Problem, did_you_mean
from .model import (
    DEVICE_PLURALS,
    DEVICE_TYPES,
    MONEY_RATE_KEYS,
    AssetRow,
    Client,
    Counts,
    Inventory,
    Invoice,
    Line,
    Plan,
    PriceBook,
    Rates,
    Service,
    Settings,
    TaxRule,
    TicketSummary,
    TimeRow,
    UsageRow,
    UserRow,
    rates_at,
)
from .money import ZERO, cents, fmt_quantity, line_amount
from .month import Month
from .tax import compute_taxes

ONE = Decimal(1)
DEVICE_LABELS = {
    "workstation": "Workstation",
    "server": "Server",
    "vm": "VM",
    "switch": "Switch",
    "firewall": "Firewall",
}
MANAGED = "Managed Services"


def _line(category: str, description: str, quantity: Decimal, rate: Decimal, item: str, taxable: bool = True) -> Line:
    # interned: half the descriptions of a month repeat ("User: User 1 (free)" in every client's invoice), and
    # one string each keeps 750,000 lines of 10,000 clients about 18 MB smaller
    return Line(category, sys.intern(description), quantity, rate, _amount(quantity, rate), taxable, item)


# Most lines of a month repeat a few (quantity, rate) pairs (1 x a plan rate): one Decimal for each amount keeps
# 750,000 lines of 10,000 clients about 70 MB smaller, and is no slower than multiplying again.
_amount = functools.lru_cache(maxsize=4096)(line_amount)


def convert(price: Decimal, fx_rate: Decimal) -> Decimal:
    """A base-currency price in the invoice currency: cents for prices of 1 or more, else 4 significant digits."""
    value = price / fx_rate
    if not value:
        return value
    if price >= 1:
        return cents(value)
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 3), rounding=ROUND_HALF_UP)


def effective_rates(client: Client, plan: Plan, month: Month, fx_rate: Decimal | None = None) -> Rates:
    """The plan's term rates in force for `month` (converted to the client's currency if it has another), then the
    client's `rates` in force for `month`, key by key (written in the client's currency)."""
    rates = rates_at(plan.terms[client.term], month)
    if fx_rate is not None:
        rates = Rates(
            {k: (convert(v, fx_rate) if k in MONEY_RATE_KEYS else v) for k, v in rates.values.items()},
            rates.backup_included_per_device,
        )
    return rates_at(client.rates, month, rates)


def support_level(client: Client, plan: Plan) -> str:
    return client.support_level or plan.support_level


# --- users ---------------------------------------------------------------------------------------------------


def bill_users(client: Client, rows: Iterable[UserRow], rates: Rates) -> list[Line]:
    """Each active user row billed per its override (paid, free, custom), then the manual users."""
    lines = []
    for row in sorted((r for r in rows if r.active), key=lambda r: (r.name.casefold(), r.user_id)):
        override = client.user_overrides.get(row.user_id)
        kind = override.kind if override else "paid"
        rate = override.rate if override and override.kind == "custom" else None
        lines.append(_user_line(row.name or row.user_id, kind, rate, rates, ""))
    for manual in client.manual_users:
        lines.append(_user_line(manual.name, manual.kind, manual.rate, rates, "manual"))
    return lines


def _user_line(name: str, kind: str, custom_rate: Decimal | None, rates: Rates, tag: str) -> Line:
    if kind == "free":
        rate, notes = ZERO, ["free"]
    elif kind == "custom":
        rate, notes = custom_rate or ZERO, ["custom rate"]
    else:
        rate, notes = rates["per_user"], []
    if tag:
        notes.append(tag)
    suffix = f" ({', '.join(notes)})" if notes else ""
    return _line("users", f"User: {name}{suffix}", ONE, rate, MANAGED)


# --- devices and backup ----------------------------------------------------------------------------------------


def resolve_device_type(exported: str, aliases: Mapping[str, str]) -> str | None:
    """An export's asset type as one of DEVICE_TYPES (case-insensitive, aliases from settings), or None."""
    key = exported.strip().casefold()
    key = aliases.get(key, key)
    return key if key in DEVICE_TYPES else None


def bill_assets(
    client: Client, rows: Iterable[AssetRow], rates: Rates, aliases: Mapping[str, str], problems: list[Problem]
) -> tuple[list[Line], list[tuple[str, Decimal]]]:
    """Device lines, and the (billed type, TB) of every backed-up device for the backup charge."""
    billed: list[tuple[int, str, str, Line]] = []
    backed_up: list[tuple[str, Decimal]] = []
    for row in rows:
        override = client.asset_overrides.get(row.asset_id)
        if override and override.kind == "no_charge":
            continue
        exported_type = resolve_device_type(row.type, aliases)
        if override:
            kind = override.kind
        elif exported_type is None:
            problems.append(
                Problem(
                    row.source,
                    f"asset {row.asset_id} ({row.hostname}) has type '{row.type}', which is not a device type",
                    "use workstation, server, vm, switch or firewall, add an alias under asset_types in "
                    f"settings.yaml, or override the asset in {client.source.file}",
                )
            )
            continue
        else:
            kind = exported_type
        name = row.hostname or row.asset_id
        note = f" (exported as {row.type})" if override and kind != "custom" and kind != exported_type else ""
        line = _device_line(kind, name, override.rate if override else None, rates, note)
        billed.append((_type_order(kind), name.casefold(), row.asset_id, line))
        if row.backup_tb > 0:
            backed_up.append((kind, row.backup_tb))
    for number, manual in enumerate(client.manual_assets):
        line = _device_line(manual.kind, manual.hostname, manual.rate, rates, " (manual)")
        billed.append((_type_order(manual.kind), manual.hostname.casefold(), f"~{number:06d}", line))
        if manual.backup_tb > 0:
            backed_up.append((manual.kind, manual.backup_tb))
    billed.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in billed], backed_up


def _type_order(kind: str) -> int:
    return DEVICE_TYPES.index(kind) if kind in DEVICE_TYPES else len(DEVICE_TYPES)


def _device_line(kind: str, name: str, custom_rate: Decimal | None, rates: Rates, note: str) -> Line:
    if kind == "custom":
        return _line("devices", f"Device: {name} (custom rate)", ONE, custom_rate or ZERO, MANAGED)
    return _line(DEVICE_PLURALS[kind], f"{DEVICE_LABELS[kind]}: {name}{note}", ONE, rates[f"per_{kind}"], MANAGED)


def bill_backup(backed_up: Sequence[tuple[str, Decimal]], rates: Rates) -> list[Line]:
    """Base fee per backed-up device by billed type, plus storage over the included TB (exact, not rounded)."""
    lines = []
    workstations = sum(1 for kind, _ in backed_up if kind == "workstation")
    servers = sum(1 for kind, _ in backed_up if kind in ("server", "vm"))
    for count, key, label in (
        (workstations, "backup_base_workstation", "workstations"),
        (servers, "backup_base_server", "servers and VMs"),
    ):
        if count and rates[key]:
            lines.append(_line("backup", f"Backup base fee: {label}", Decimal(count), rates[key], "Backup"))
    total_tb = sum((tb for _, tb in backed_up), ZERO)
    included = rates["backup_included_tb"]
    if rates.backup_included_per_device:
        included *= len(backed_up)
    overage = max(ZERO, total_tb - included)
    if overage and rates["backup_per_tb"]:
        description = f"Backup storage: {_q(total_tb)} TB used, {_q(included)} TB included, {_q(overage)} TB over"
        lines.append(_line("backup", description, overage, rates["backup_per_tb"], "Backup"))
    return lines


# --- support hours ---------------------------------------------------------------------------------------------


_SHARED: dict = {}  # see _one_of
SHARED_MAX = 100_000


def _one_of(value):
    """One object for each distinct value of a ticket's hours and dates: most repeat (1.0 and 0.5 hours, the
    month's days), and 100,000 tickets of 10,000 clients then keep about 30 MB less. Decimals are told apart by
    their text (1.0 and 1.00 are equal, yet print differently); the table is emptied when large (`otb watch`)."""
    key = (str(value),) if isinstance(value, Decimal) else value
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[key] = value
    return found


def summarize_tickets(rows: Iterable[TimeRow]) -> tuple[TicketSummary, ...]:
    by_ticket: dict[str, list[TimeRow]] = {}
    for row in rows:
        by_ticket.setdefault(row.ticket, []).append(row)
    summaries = []
    for ticket, entries in by_ticket.items():  # one pass over a ticket's entries (100,000 tickets at 10,000 clients)
        subject, hours, billable, days = "", ZERO, ZERO, set()
        for e in entries:
            subject = subject or e.subject  # the first one given
            hours += e.hours
            if e.billable:
                billable += e.hours
            days.add(e.when.date())
        dates = _one_of(tuple(sorted(_one_of(day) for day in days)))
        summaries.append(TicketSummary(ticket, subject, _one_of(hours), _one_of(billable), dates))
    return tuple(sorted(summaries, key=lambda s: (len(s.ticket), s.ticket)))


def apply_prepaid(billable: Decimal, monthly: Decimal, yearly_left: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Monthly allowance first, then the yearly pool, then the rest is charged."""
    monthly_used = min(billable, monthly)
    rest = billable - monthly_used
    yearly_used = min(rest, max(ZERO, yearly_left))
    return monthly_used, yearly_used, rest - yearly_used


def bill_support(
    client: Client, rows: Sequence[TimeRow], rates: Rates, level: str, pool_used_before: Decimal
) -> tuple[list[Line], Decimal, Decimal]:
    """The support-hours line (hourly only) and the prepaid hours it used (monthly, yearly)."""
    billable = sum((r.hours for r in rows if r.billable), ZERO)
    if level != "hourly" or billable <= 0:
        return [], ZERO, ZERO
    yearly_left = client.prepaid.yearly - pool_used_before
    monthly_used, yearly_used, charged = apply_prepaid(billable, client.prepaid.monthly, yearly_left)
    parts = [f"{_q(billable)} h worked"]
    if monthly_used:
        parts.append(f"{_q(monthly_used)} h from the monthly prepaid hours")
    left = max(ZERO, yearly_left - yearly_used)
    if yearly_used:
        parts.append(f"{_q(yearly_used)} h from the yearly pool ({_q(left)} h left)")
    elif client.prepaid.yearly:
        parts.append(f"yearly pool: {_q(left)} h left")
    description = "Support hours: " + ", ".join(parts)
    return [_line("support", description, charged, rates["per_hour"], "Support Hours")], monthly_used, yearly_used


# --- line items and usage --------------------------------------------------------------------------------------


def bill_line_items(
    client: Client, month: Month, services: Mapping[str, Service], problems: list[Problem]
) -> list[Line]:
    lines = []
    for item in client.line_items:
        if not item.due_in(month):
            continue
        if item.kind == "service":
            service = services.get(item.service)
            if service is None:
                problems.append(_unknown_service(item.service, item.source, services))
                continue
            rate = item.rate if item.rate is not None else service.rate
            text = f"{service.name}: {item.description}" if item.description else service.name
            taxable = service.taxable if item.taxable is None else item.taxable
            lines.append(_line(f"service:{service.code}", text, item.quantity, rate, service.name, taxable))
        else:
            text = f"{item.name}: {item.description}" if item.description else item.name
            taxable = True if item.taxable is None else item.taxable
            assert item.rate is not None  # every line item but a service one has its amount (readers/clients.py)
            lines.append(_line(f"item:{item.name}", text, item.quantity, item.rate, item.name, taxable))
    return lines


def bill_usage(rows: Iterable[UsageRow], services: Mapping[str, Service], problems: list[Problem]) -> list[Line]:
    lines = []
    for row in rows:
        service = services.get(row.service)
        if service is None:
            problems.append(_unknown_service(row.service, row.source, services))
            continue
        text = f"{service.name}: {row.description}" if row.description else f"{service.name} ({service.unit})"
        lines.append(_line(f"service:{service.code}", text, row.quantity, service.rate, service.name, service.taxable))
    return lines


def _unknown_service(code: str, source, services: Mapping[str, Service]) -> Problem:
    return Problem(source, f"service '{code}' is not in services.yaml", did_you_mean(code, services))


def _q(value: Decimal) -> str:
    return fmt_quantity(value)


# --- the invoice -----------------------------------------------------------------------------------------------


INVOICE_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
INVOICE_NUMBER_MAX = 21  # QuickBooks' limit for an invoice number


def invoice_number(settings: Settings, account: str, month: Month) -> str:
    return settings.invoice_number.format(account=account, year=month.year, month=month.month)


def invoice_number_problem(number: str) -> str:
    """Why `number` cannot be an invoice number (it names files and ledger links, and goes to QuickBooks), or ""."""
    if not INVOICE_NUMBER_RE.match(number) or ".." in number:
        return (
            f"invoice number '{number}' has characters an invoice number cannot hold (letters, digits, '-', '_' "
            "and '.' only, starting with a letter or digit)"
        )
    if len(number) > INVOICE_NUMBER_MAX:
        return f"invoice number '{number}' has {len(number)} characters; QuickBooks takes at most {INVOICE_NUMBER_MAX}"
    return ""


@dataclass(frozen=True)
class MonthContext:
    """What every client of a month is billed against: the month, the settings, the service catalog and the tax
    rules (the settings' own rows, then the built-in rates)."""

    month: Month
    settings: Settings
    services: Mapping[str, Service]
    tax_rules: Sequence[TaxRule]


def bill_client(
    client: Client,
    plan: Plan,
    inventory: Inventory,
    context: MonthContext,
    pool_used_before: Decimal,
    problems: list[Problem],
    fx: tuple[dt.date, Decimal] | None = None,
    prices: PriceBook | None = None,
) -> Invoice | None:
    """One client's invoice for the month, or None when there is nothing to bill.

    `fx` (date, rate) is given for a client invoiced in another currency than the books: plan and catalog prices
    are converted at that rate; amounts written in the client file are already in the client's currency.
    `prices` (those a finalized invoice recorded) replace the current rates, catalog rates and fee.
    """
    month, settings, services, tax_rules = context.month, context.settings, context.services, context.tax_rules
    fx_rate = fx[1] if fx else None
    if fx_rate is not None:
        services = {code: replace(svc, rate=convert(svc.rate, fx_rate)) for code, svc in services.items()}
    rates = effective_rates(client, plan, month, fx_rate)
    fee_pct = settings.conversion_fee_pct
    if prices is not None:
        rates, fee_pct = prices.rates, prices.conversion_fee_pct
        services = {
            code: (replace(svc, rate=prices.services[code]) if code in prices.services else svc)
            for code, svc in services.items()
        }
    level = support_level(client, plan)
    user_lines = bill_users(client, inventory.users, rates)
    asset_lines, backed_up = bill_assets(client, inventory.assets, rates, settings.asset_types, problems)
    backup_lines = bill_backup(backed_up, rates)
    support_lines, monthly_used, yearly_used = bill_support(client, inventory.tickets, rates, level, pool_used_before)
    item_lines = bill_line_items(client, month, services, problems)
    usage_lines = bill_usage(inventory.usage, services, problems)
    lines = user_lines + asset_lines + backup_lines + support_lines + item_lines + usage_lines
    if (client.proration or plan.proration) == "daily" and (client.start_day or client.end_day):
        lines += prorate(lines, _recurring_items(client, month), month, client.start_day, client.end_day)
    lines += discount_lines(lines, client.discounts, month)
    if fx_rate is not None and fee_pct and lines:
        pct = fee_pct
        fee = cents(sum((line.amount for line in lines), ZERO) * pct / 100)
        lines.append(
            _line("fx_fee", f"Currency conversion fee ({fmt_quantity(pct)}%)", ONE, fee, "Currency Conversion")
        )
    billed = tuple(lines)
    tickets = summarize_tickets(inventory.tickets)
    if not billed:
        return None
    date = month.last_day
    terms = client.terms_days if client.terms_days is not None else settings.terms_days
    taxable = sum((line.amount for line in billed if line.taxable), ZERO)
    taxes, notes = compute_taxes(client, settings, date, taxable, tax_rules)
    kinds = [line.category for line in asset_lines]
    counts = Counts(
        users=len(user_lines),
        workstations=kinds.count("workstations"),
        servers=kinds.count("servers"),
        vms=kinds.count("vms"),
        switches=kinds.count("switches"),
        firewalls=kinds.count("firewalls"),
        hours=sum((t.hours for t in tickets), ZERO),
        billable_hours=sum((t.billable_hours for t in tickets), ZERO),
        prepaid_hours_used=monthly_used + yearly_used,
        backup_tb=sum((tb for _, tb in backed_up), ZERO),
    )
    return Invoice(
        number=invoice_number(settings, client.account, month),
        account=client.account,
        client=client.name,
        month=month,
        date=date,
        due=date + dt.timedelta(days=terms),
        currency=client.currency or settings.currency,
        plan=plan.name,
        term=client.term,
        support_level=level,
        lines=billed,
        taxes=taxes,
        counts=counts,
        notes=notes,
        prepaid_monthly_used=monthly_used,
        prepaid_yearly_used=yearly_used,
        pool_year=month.pool_year(client.prepaid.year_starts_month),
        tickets=tickets,
        base_currency=settings.currency if fx_rate is not None else "",
        fx_rate=fx_rate,
        fx_date=fx[0] if fx else None,
        prices=PriceBook(
            rates,
            {code: services[code].rate for code in sorted(_services_billed(billed)) if code in services},
            fee_pct if fx_rate is not None else Decimal(0),
        ),
    )


def _recurring_items(client: Client, month: Month) -> set[str]:
    """The categories of line items charged every month (monthly items, catalog items without a month)."""
    out = set()
    for item in client.line_items:
        if item.due_in(month) and (item.kind == "monthly" or (item.kind == "service" and item.month is None)):
            out.add(f"service:{item.service}" if item.kind == "service" else f"item:{item.name}")
    return out


def _services_billed(lines) -> set[str]:
    return {line.category.partition(":")[2] for line in lines if line.category.startswith("service:")}
