"""clients/*.yaml: one client each, with its overrides, manual items and line items."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from ..core.adjustments import DISCOUNT_SCOPES
from ..core.errors import Problem, Source, did_you_mean
from ..core.model import (
    ASSET_KINDS,
    DEVICE_TYPES,
    LANGUAGES,
    SUPPORT_LEVELS,
    USER_KINDS,
    AssetOverride,
    Client,
    Discount,
    LineItem,
    ManualAsset,
    ManualUser,
    Plan,
    Prepaid,
    Settings,
    UserOverride,
)
from ..core.money import ZERO
from ..core.month import Month
from ..core.tax import PROVINCES
from ..filecache import cached
from .catalog import read_rate_changes
from .fields import Fields, normalize_word
from .sources import ACCOUNT_RE, EMAIL_RE, _expect_mapping, read_yaml_file
from .yamlsrc import YMap

# --- clients -------------------------------------------------------------------------------------------------------

CLIENT_KEYS = (
    "account", "name", "billing_email", "address", "province", "country", "plan", "term", "support_level",
    "terms_days", "start", "end", "tax_exempt", "rates", "prepaid_hours", "assets", "users", "manual_assets",
    "manual_users", "line_items", "notes", "contact", "phone", "currency", "match", "discounts", "proration",
    "language",
)
DISCOUNT_KEYS = ("name", "percent", "amount", "on", "from", "until", "notes")
LINE_ITEM_KINDS = ("monthly", "one_off", "yearly", "service")
LINE_ITEM_KEYS = LINE_ITEM_KINDS + ("name", "description", "month", "from", "until", "quantity", "rate", "taxable")


def client_files(root: Path) -> list[Path]:
    """clients/*.yaml, in the order they are read."""
    folder = root / "clients"
    return sorted(folder.glob("*.yaml"), key=lambda p: p.name) if folder.is_dir() else []


def read_clients(root: Path, settings: Settings, plans: dict[str, Plan], problems: list[Problem],
                 paths: Iterable[Path] | None = None) -> list[Client]:
    """The clients of clients/*.yaml (or of `paths` alone)."""
    clients: list[Client] = []
    seen: dict[str, Client] = {}
    terms = {name: tuple(plan.terms) for name, plan in plans.items()}  # all a client file is checked against
    for path in client_files(root) if paths is None else paths:
        def read(found: list[Problem], path: Path = path) -> Client | None:
            return _read_client_file(path, root, settings, plans, found)

        client = cached("client", path, (settings, terms), problems, read)
        if client is None:
            continue
        key = client.account.casefold()
        if key in seen:
            problems.append(Problem(client.source, f"account '{client.account}' is also used by "
                                    f"{seen[key].source.file}", "every client needs its own account number"))
            continue
        seen[key] = client
        clients.append(client)
    return clients


def _read_client_file(path: Path, root: Path, settings: Settings, plans: dict[str, Plan],
                      problems: list[Problem]) -> Client | None:
    data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
    return None if data is None else read_client(data, settings, plans, problems)


def read_client(data: YMap, settings: Settings, plans: dict[str, Plan], problems: list[Problem]) -> Client | None:
    f = Fields(data, problems)
    before = len(problems)
    f.check_keys(CLIENT_KEYS, required=("account", "name", "plan", "term"))
    account = f.text("account")
    if account and not ACCOUNT_RE.match(account):
        f.error("account", f"account '{account}' has characters that are not allowed",
                "use letters, digits and '-' only, starting with a letter or digit")
    plan_name, term = f.text("plan"), f.text("term")
    if plan_name and plan_name not in plans:
        f.error("plan", f"unknown plan '{plan_name}'", did_you_mean(plan_name, plans))
    elif plan_name and term and term not in plans[plan_name].terms:
        f.error("term", f"plan '{plan_name}' has no term '{term}'", did_you_mean(term, plans[plan_name].terms))
    country = f.text("country", settings.local_country).upper()
    province = f.text("province").upper()
    if country == settings.local_country:
        if province and province not in PROVINCES:
            f.error("province", f"unknown province '{province}'", did_you_mean(province, PROVINCES))
        elif not province and "GST/HST" in settings.registrations:
            f.error(None, "missing 'province': it decides the sales tax of a client in "
                    f"{settings.local_country}", "e.g. province: ON")
    emails = f.texts("billing_email")
    for email in emails:
        if not EMAIL_RE.match(email):
            f.error("billing_email", f"'{email}' is not an email address",
                    "write one address, or a list: [ap@example.com, cfo@example.com]")
    start, end = f.month("start"), f.month("end")
    start_day, end_day = _day(data.get("start")), _day(data.get("end"))
    if start_day and start_day.day == 1:
        start_day = None
    if end_day and end_day == Month.of(end_day).last_day:
        end_day = None
    if start and end and end < start:
        f.error("end", f"contract end {end} is before its start {start}")

    rates: tuple = ()
    if data.get("rates") is not None:
        rates = read_rate_changes(data["rates"], f.src("rates"), "rates", problems) or ()
    prepaid = Prepaid()
    if (pmap := f.mapping("prepaid_hours")) is not None:
        p = Fields(pmap, problems, "prepaid_hours")
        p.check_keys(("monthly", "yearly", "year_starts_month"))
        prepaid = Prepaid(p.decimal("monthly", ZERO, what="hours"), p.decimal("yearly", ZERO, what="hours"),
                          p.integer("year_starts_month", 1, low=1, high=12))
    client = Client(
        account=account,
        name=f.text("name"),
        plan=plan_name,
        term=term,
        source=Source(data.file),
        billing_emails=emails,
        address=f.texts("address"),
        province=province,
        country=country,
        support_level=f.choice("support_level", SUPPORT_LEVELS),
        terms_days=f.integer("terms_days", low=0, high=3650),
        start=start,
        end=end,
        tax_exempt=f.text("tax_exempt"),
        currency=_currency(f, settings),
        rates=rates,
        prepaid=prepaid,
        user_overrides=_read_overrides(f, "users", USER_KINDS, "user", UserOverride),
        asset_overrides=_read_overrides(f, "assets", ASSET_KINDS, "asset", AssetOverride),
        manual_users=_read_manual_users(f, problems),
        manual_assets=_read_manual_assets(f, problems),
        line_items=_read_line_items(f, problems),
        match=f.texts("match"),
        discounts=_read_discounts(f),
        proration=f.choice("proration", ("daily", "none")),
        start_day=start_day,
        end_day=end_day,
        language=f.choice("language", LANGUAGES, "en") or "en",
    )
    return client if len(problems) == before else None


def _day(value) -> dt.date | None:
    """A contract start or end written as a day (2024-10-15) rather than a month."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) and not isinstance(value, str) else None


def _read_discounts(f: Fields) -> tuple[Discount, ...]:
    out = []
    for _, d in _entries(f, "discounts", "discount"):
        d.check_keys(DISCOUNT_KEYS, required=("name",))
        percent = d.decimal("percent", what="a percentage")
        amount = d.decimal("amount", what="an amount")
        if (percent is None) == (amount is None):
            d.error(None, "a discount needs exactly one of percent or amount", "e.g. {name: Loyalty, percent: 10}")
            continue
        if percent is not None and percent > 100:
            d.error("percent", f"a discount of {percent}% is more than the whole charge")
            continue
        scopes = tuple(normalize_word(s) for s in d.texts("on"))
        unknown = [s for s in scopes if s not in DISCOUNT_SCOPES]
        if unknown:
            d.error("on", f"discount: '{unknown[0]}' is not one of: {', '.join(DISCOUNT_SCOPES)}",
                    did_you_mean(unknown[0], DISCOUNT_SCOPES))
            continue
        start, until = d.month("from"), d.month("until")
        if start and until and until < start:
            d.error("until", f"discount until {until} is before its start {start}")
        out.append(Discount(d.text("name"), percent, amount, tuple(s for s in scopes if s != "all"), d.src(), start,
                            until))
    return tuple(out)


def _currency(f: Fields, settings: Settings) -> str:
    """The client's invoice currency, "" for the base currency."""
    currency = f.text("currency").upper()
    if not currency or currency == settings.currency:
        return ""
    if not re.fullmatch(r"[A-Z]{3}", currency):
        f.error("currency", f"currency '{currency}' is not a 3-letter code", "e.g. USD or EUR")
        return ""
    return currency


def _kind_and_rate(value, where: Fields, key, kinds, what: str):
    """An override written as `kind` or `{type: kind, rate: X}` -> (kind, rate) or None."""
    if isinstance(value, YMap):
        o = Fields(value, where.problems, f"{what} '{key}'")
        o.check_keys(("type", "rate", "notes"), required=("type",))
        kind = o.choice("type", kinds)
        rate = o.decimal("rate", what="a rate")
        source = o.src()
    elif isinstance(value, str):
        kind = normalize_word(value)
        rate = None
        source = where.src(key)
        if kind not in kinds:
            where.error(key, f"{what} '{key}': '{value}' is not one of: {', '.join(kinds)}", did_you_mean(kind, kinds))
            return None
    else:
        where.error(key, f"{what} '{key}' should be a type name or {{type: ..., rate: ...}}")
        return None
    if kind is None:
        return None
    if kind == "custom" and rate is None:
        where.error(key, f"{what} '{key}' is custom but has no rate", "write {type: custom, rate: 50.00}")
        return None
    if kind != "custom" and rate is not None:
        where.error(key, f"{what} '{key}' has a rate but type '{kind}'",
                    "a rate goes with type: custom; to change a whole type's rate use `rates:`")
        return None
    return kind, rate, source


def _read_overrides(f: Fields, key: str, kinds, what: str, make) -> dict:
    """The `users:` or `assets:` overrides of a client, by id."""
    out = {}
    if (mapping := f.mapping(key)) is not None:
        sub = Fields(mapping, f.problems, key)
        for item_id, value in mapping.items():
            parsed = _kind_and_rate(value, sub, item_id, kinds, what)
            if parsed:
                out[str(item_id)] = make(*parsed)
    return out


def _entries(f: Fields, key: str, what: str):
    items = f.sequence(key)
    if items is None:
        return
    for index, entry in enumerate(items):
        if not isinstance(entry, YMap):
            where = Source(items.file, items.line_of(index))
            f.problems.append(Problem(where, f"{key}: each entry should be a mapping"))
            continue
        yield index, Fields(entry, f.problems, f"{what} {index + 1}")


def _read_manual_users(f: Fields, problems: list[Problem]) -> tuple[ManualUser, ...]:
    out = []
    for _, m in _entries(f, "manual_users", "manual user"):
        m.check_keys(("name", "type", "rate", "notes"), required=("name",))
        kind = m.choice("type", USER_KINDS, "paid")
        rate = m.decimal("rate", what="a rate")
        if kind == "custom" and rate is None:
            m.error("type", "a custom manual user needs a rate")
        elif kind != "custom" and rate is not None:
            m.error("rate", f"a rate goes with type: custom, not '{kind}'", "write {type: custom, rate: 10.00}")
        out.append(ManualUser(m.text("name"), kind or "paid", rate, m.text("notes"), m.src()))
    return tuple(out)


def _read_manual_assets(f: Fields, problems: list[Problem]) -> tuple[ManualAsset, ...]:
    out = []
    for _, m in _entries(f, "manual_assets", "manual asset"):
        m.check_keys(("hostname", "type", "rate", "notes", "backup_tb"), required=("hostname", "type"))
        kind = m.choice("type", DEVICE_TYPES + ("custom",))
        rate = m.decimal("rate", what="a rate")
        if kind == "custom" and rate is None:
            m.error("type", "a custom manual asset needs a rate")
        elif kind and kind != "custom" and rate is not None:
            m.error("rate", f"a rate goes with type: custom, not '{kind}'", "write {type: custom, rate: 50.00}")
        if kind:
            out.append(
                ManualAsset(
                    m.text("hostname"),
                    kind,
                    rate,
                    m.text("notes"),
                    m.decimal("backup_tb", ZERO, what="a number of TB"),
                    m.src(),
                )
            )
    return tuple(out)


def _read_line_items(f: Fields, problems: list[Problem]) -> tuple[LineItem, ...]:
    out = []
    for _, m in _entries(f, "line_items", "line item"):
        m.check_keys(LINE_ITEM_KEYS)
        kinds = [k for k in LINE_ITEM_KINDS if m.has(k)]
        if len(kinds) != 1:
            m.error(
                None,
                "a line item needs exactly one of monthly, one_off, yearly or service"
                + (f" (it has {', '.join(kinds)})" if kinds else ""),
                "e.g. {name: Cloud Hosting, monthly: 500.00}",
            )
            continue
        kind = kinds[0]
        name = m.text("name")
        if kind != "service" and not name:
            m.error(None, "a line item needs a name")
            continue
        quantity = m.decimal("quantity", Decimal(1), what="a quantity")
        common = dict(
            kind=kind,
            name=name,
            description=m.text("description"),
            quantity=quantity,
            source=m.src(),
            taxable=m.boolean("taxable"),
        )
        if kind == "monthly":
            if m.has("month"):
                m.error("month", "a monthly item runs every month; use from/until to limit it")
            out.append(
                LineItem(
                    rate=m.decimal("monthly", ZERO, what="an amount"),
                    start=m.month("from"),
                    until=m.month("until"),
                    **common,
                )
            )
        elif kind == "one_off":
            month = m.month("month")
            if month is None and not m.has("month"):
                m.error(None, "a one_off item needs the month it is billed in", "e.g. month: 2024-03")
            out.append(LineItem(rate=m.decimal("one_off", ZERO, what="an amount"), month=month, **common))
        elif kind == "yearly":
            number = m.integer("month", low=1, high=12)
            if number is None and not m.has("month"):
                m.error(None, "a yearly item needs the month number it is billed in", "e.g. month: 1 for January")
            out.append(LineItem(rate=m.decimal("yearly", ZERO, what="an amount"), month_number=number, **common))
        else:
            out.append(
                LineItem(
                    rate=m.decimal("rate", what="a rate"),
                    service=m.text("service"),
                    month=m.month("month"),
                    start=m.month("from"),
                    until=m.month("until"),
                    **common,
                )
            )
    return tuple(out)
