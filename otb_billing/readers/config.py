"""Read settings.yaml, services.yaml, plans/*.yaml and clients/*.yaml into a core Config.

Every value keeps its file and line; every mistake becomes a Problem; nothing is raised for bad input.
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from pathlib import Path

import yaml

from ..core.errors import InputErrors, Problem, Source, did_you_mean
from ..core.model import (
    ASSET_KINDS,
    DEVICE_TYPES,
    FLAG_RATE_KEYS,
    MONEY_RATE_KEYS,
    QUANTITY_RATE_KEYS,
    RATE_KEYS,
    SUPPORT_LEVELS,
    USER_KINDS,
    AssetOverride,
    Business,
    Client,
    Config,
    LineItem,
    ManualAsset,
    ManualUser,
    Plan,
    Prepaid,
    Rates,
    Service,
    Settings,
    Smtp,
    TaxRule,
    UserOverride,
)
from ..core.money import ZERO
from ..core.tax import PROVINCES, REGISTRATIONS, TAX_NAMES
from .fields import Fields, normalize_word, type_name
from .yamlsrc import YList, YMap, load_yaml, yaml_error_line

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
LINK_RE = re.compile(r"^[A-Za-z0-9\-_/.]+$")
BEANCOUNT_ACCOUNT_RE = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)+$")
BANK_CSV_ROLES = ("date", "amount", "description", "reference", "date_format", "currency")


FAILED = object()  # what read_yaml_file returns when the file could not be parsed (the problem is recorded)


def read_yaml_file(path: Path, root: Path, problems: list[Problem]):
    """Parse one YAML file; a syntax error becomes a Problem and FAILED is returned."""
    name = relative_name(path, root)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(Source(name), f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8"))
        return FAILED
    try:
        return load_yaml(text, name)
    except yaml.YAMLError as exc:
        line, message = yaml_error_line(exc)
        hint = "" if "duplicate key" in message else "check indentation, colons and quotes on this line"
        problems.append(Problem(Source(name, line), f"YAML syntax error: {message}", hint))
        return FAILED


def relative_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _expect_mapping(data, path: Path, root: Path, problems: list[Problem]) -> YMap | None:
    if data is FAILED:
        return None
    if data is None:
        problems.append(Problem(Source(relative_name(path, root), 1), "the file is empty"))
        return None
    if not isinstance(data, YMap):
        problems.append(Problem(Source(relative_name(path, root), 1), f"should hold key: value lines, not {type_name(data)}"))
        return None
    return data


# --- settings --------------------------------------------------------------------------------------------------

SETTINGS_KEYS = ("business", "currency", "timezone", "invoice", "tax", "asset_types", "ledger", "bank", "smtp", "email",
                 "conversion_fee_pct")
BUSINESS_KEYS = ("name", "email", "phone", "website", "address", "province", "country", "tagline", "logo",
                 "registration")
INVOICE_KEYS = ("terms_days", "number", "footer", "payment_instructions")
TAX_KEYS = ("registrations", "local_country", "rates")
TAX_RATE_KEYS = ("name", "province", "rate", "from", "until", "registration")


def read_settings(root: Path, problems: list[Problem]) -> Settings | None:
    path = root / "settings.yaml"
    if not path.exists():
        problems.append(Problem(Source("settings.yaml"), "settings.yaml is missing",
                                "run `otb init DIR` to create a billing repo, or pass --root"))
        return None
    data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
    if data is None:
        return None
    f = Fields(data, problems)
    f.check_keys(SETTINGS_KEYS, required=("business",))
    business = Business(name="")
    if (bmap := f.mapping("business")) is not None:
        b = Fields(bmap, problems, "business")
        b.check_keys(BUSINESS_KEYS, required=("name",))
        business = Business(
            name=b.text("name"), email=b.text("email"), phone=b.text("phone"), website=b.text("website"),
            address=b.texts("address"), province=b.text("province").upper(),
            country=b.text("country", "CA").upper(), tagline=b.text("tagline"), logo=b.text("logo"),
            registration=b.text("registration"),
        )
        if business.logo and not (root / business.logo).is_file():
            b.error("logo", f"logo '{business.logo}' is not a file in the billing repo", "e.g. logo: assets/logo.png")
    currency = f.text("currency", "CAD").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        f.error("currency", f"currency '{currency}' is not a 3-letter code", "e.g. CAD")
    timezone = f.text("timezone", "America/Toronto")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        f.error("timezone", f"unknown timezone '{timezone}'", "use a name like America/Toronto")
        timezone = "UTC"

    terms_days, number_format, footer, instructions = 30, "{account}-{year}{month:02d}", "", ""
    if (imap := f.mapping("invoice")) is not None:
        inv = Fields(imap, problems, "invoice")
        inv.check_keys(INVOICE_KEYS)
        terms_days = inv.integer("terms_days", 30, low=0, high=3650)
        number_format = inv.text("number", number_format)
        footer = inv.text("footer")
        instructions = inv.text("payment_instructions")
        _check_number_format(number_format, inv)

    registrations: dict[str, str] = {}
    local_country = "CA"
    rules: list[TaxRule] = []
    if (tmap := f.mapping("tax")) is not None:
        tax = Fields(tmap, problems, "tax")
        tax.check_keys(TAX_KEYS)
        local_country = tax.text("local_country", "CA").upper()
        if (rmap := tax.mapping("registrations")) is not None:
            regs = Fields(rmap, problems, "tax.registrations")
            for key in rmap:
                if key not in REGISTRATIONS:
                    regs.error(key, f"unknown tax registration '{key}'", did_you_mean(str(key), REGISTRATIONS))
                else:
                    registrations[key] = regs.text(key)
        if (rlist := tax.sequence("rates")) is not None:
            rules = _read_tax_rules(rlist, problems)

    aliases: dict[str, str] = {}
    if (amap := f.mapping("asset_types")) is not None:
        for key, value in amap.items():
            target = normalize_word(str(value))
            if target not in DEVICE_TYPES:
                problems.append(Problem(Source(amap.file, amap.line_of(key)),
                                        f"asset_types: '{key}' maps to '{value}', which is not a device type",
                                        did_you_mean(target, DEVICE_TYPES)))
            else:
                aliases[str(key).strip().casefold()] = target
    bank_account, bank_csv, bank_accounts = "Assets:Bank:Operating", {}, {}
    if (bank := f.mapping("bank")) is not None:
        bk = Fields(bank, problems, "bank")
        bk.check_keys(("account", "csv", "accounts"))
        if (amap := bk.mapping("accounts")) is not None:
            for cur, name in amap.items():
                name = str(name)
                if not BEANCOUNT_ACCOUNT_RE.match(name) or not re.fullmatch(r"[A-Z]{3}", str(cur)):
                    problems.append(Problem(Source(amap.file, amap.line_of(cur)),
                                            f"bank.accounts: '{cur}: {name}' should map a currency to an account",
                                            "e.g. USD: Assets:Bank:USD"))
                else:
                    bank_accounts[str(cur)] = name
        bank_account = bk.text("account", bank_account)
        if not BEANCOUNT_ACCOUNT_RE.match(bank_account):
            bk.error("account", f"'{bank_account}' is not a Beancount account name", "e.g. Assets:Bank:Operating")
        if (cmap := bk.mapping("csv")) is not None:
            c = Fields(cmap, problems, "bank.csv")
            c.check_keys(BANK_CSV_ROLES)
            bank_csv = {role: c.text(role) for role in BANK_CSV_ROLES if c.has(role)}
    return Settings(
        business=business, currency=currency, timezone=timezone, terms_days=terms_days,
        number_format=number_format, footer=footer, registrations=registrations, local_country=local_country,
        asset_types=aliases, tax_rules=tuple(rules), bank_account=bank_account, bank_csv=bank_csv,
        bank_accounts=bank_accounts, conversion_fee_pct=f.decimal("conversion_fee_pct", Decimal(0),
                                                                  what="a percentage"),
        payment_instructions=instructions, smtp=_read_smtp(f, problems),
        reminder_interval_days=_reminder_interval(f, problems),
    )


SMTP_KEYS = ("host", "port", "security", "username", "password_env", "password_file", "from_address", "from_name",
             "bcc", "timeout", "password")


def _read_smtp(f: Fields, problems: list[Problem]) -> Smtp:
    smap = f.mapping("smtp")
    if smap is None:
        return Smtp()
    s = Fields(smap, problems, "smtp")
    if "password" in smap:
        s.error("password", "a password must not be written in settings.yaml (it would end up in git)",
                "set the environment variable named by smtp.password_env, or smtp.password_file outside the repo")
    s.check_keys(SMTP_KEYS, required=("host", "from_address"))
    return Smtp(
        host=s.text("host"), port=s.integer("port", 587, low=1, high=65535) or 587,
        security=s.choice("security", ("starttls", "ssl", "none"), "starttls") or "starttls",
        username=s.text("username"), password_env=s.text("password_env", "OTB_SMTP_PASSWORD"),
        password_file=s.text("password_file"), from_address=s.text("from_address"), from_name=s.text("from_name"),
        bcc=s.texts("bcc"), timeout=s.integer("timeout", 30, low=1, high=600) or 30,
    )


def _reminder_interval(f: Fields, problems: list[Problem]) -> int:
    emap = f.mapping("email")
    if emap is None:
        return 7
    e = Fields(emap, problems, "email")
    e.check_keys(("reminder_interval_days",))
    return e.integer("reminder_interval_days", 7, low=1, high=365) or 7


def _check_number_format(template: str, f: Fields) -> None:
    try:
        sample = template.format(account="620547", year=2024, month=10)
    except (KeyError, IndexError, ValueError) as exc:
        f.error("number", f"invoice.number '{template}' cannot be used: {exc}",
                "use the fields {account}, {year} and {month}, e.g. {account}-{year}{month:02d}")
        return
    if "{account" not in template or "{year" not in template or "{month" not in template:
        f.error("number", f"invoice.number '{template}' must contain {{account}}, {{year}} and {{month}}",
                "numbers must be unique per client and month")
    elif not LINK_RE.match(sample):
        f.error("number", f"invoice.number '{template}' gives '{sample}', which has characters a ledger link "
                "cannot hold", "use letters, digits, '-', '_', '/' and '.' only")


def _read_tax_rules(rlist: YList, problems: list[Problem]) -> list[TaxRule]:
    rules = []
    for index, entry in enumerate(rlist):
        if not isinstance(entry, YMap):
            problems.append(Problem(Source(rlist.file, rlist.line_of(index)), "tax.rates: each entry should be a mapping"))
            continue
        r = Fields(entry, problems, "tax rate")
        r.check_keys(TAX_RATE_KEYS, required=("name", "province", "rate"))
        name = r.text("name").upper()
        province = r.text("province").upper()
        if name and name not in TAX_NAMES:
            r.error("name", f"unknown tax '{name}'", did_you_mean(name, TAX_NAMES))
        if province and province not in PROVINCES:
            r.error("province", f"unknown province '{province}'", did_you_mean(province, PROVINCES))
        rate = r.decimal("rate", what="a percentage")
        default_reg = "GST/HST" if name in ("GST", "HST") else ("QST" if name == "QST" else f"{name}-{province}")
        registration = r.text("registration", default_reg)
        if rate is not None and name in TAX_NAMES and province in PROVINCES:
            rules.append(TaxRule(name, province, rate, registration, r.date("from"), r.date("until")))
    return rules


# --- services ----------------------------------------------------------------------------------------------------

SERVICE_KEYS = ("code", "name", "rate", "unit", "taxable", "description")


def read_services(root: Path, problems: list[Problem]) -> dict[str, Service]:
    path = root / "services.yaml"
    if not path.exists():
        return {}
    data = read_yaml_file(path, root, problems)
    if data is FAILED or data is None:
        return {}
    name = relative_name(path, root)
    if not isinstance(data, YList):
        problems.append(Problem(Source(name, 1), "services.yaml should be a list of services ('- {code: ..., ...}')"))
        return {}
    services: dict[str, Service] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, YMap):
            problems.append(Problem(Source(name, data.line_of(index)), "each service should be a mapping"))
            continue
        s = Fields(entry, problems, "service")
        s.check_keys(SERVICE_KEYS, required=("code", "name", "rate"))
        code = s.text("code")
        rate = s.decimal("rate", what="a rate")
        if not code or rate is None:
            continue
        if code in services:
            s.error("code", f"duplicate service code '{code}' (also on line {services[code].source.line})")
            continue
        services[code] = Service(code, s.text("name", code), rate, s.text("unit", "unit"),
                                 s.boolean("taxable", True), s.src())
    return services


# --- plans -------------------------------------------------------------------------------------------------------

PLAN_KEYS = ("name", "support_level", "terms", "description")


def read_plans(root: Path, problems: list[Problem]) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for path in sorted((root / "plans").glob("*.yaml")) if (root / "plans").is_dir() else []:
        data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
        if data is None:
            continue
        f = Fields(data, problems)
        f.check_keys(PLAN_KEYS, required=("name", "terms"))
        name = f.text("name")
        level = f.choice("support_level", SUPPORT_LEVELS, "hourly")
        terms: dict[str, Rates] = {}
        if (tmap := f.mapping("terms")) is not None:
            for term, rates in tmap.items():
                if not isinstance(rates, YMap):
                    problems.append(Problem(Source(tmap.file, tmap.line_of(term)),
                                            f"term '{term}' should be a mapping of rates"))
                    continue
                values, per_device = read_rates(Fields(rates, problems, f"term '{term}'"))
                terms[str(term)] = Rates(values, bool(per_device))
        if not name:
            continue
        if name in plans:
            f.error("name", f"duplicate plan name '{name}' (also in {plans[name].source.file})")
            continue
        plans[name] = Plan(name, level or "hourly", terms, f.src())
    return plans


def read_rates(r: Fields) -> tuple[dict[str, Decimal], bool | None]:
    r.check_keys(RATE_KEYS)
    values = {}
    for key in MONEY_RATE_KEYS:
        if (value := r.decimal(key, what="a rate")) is not None:
            values[key] = value
    for key in QUANTITY_RATE_KEYS:
        if (value := r.decimal(key, what="a number of TB")) is not None:
            values[key] = value
    return values, r.boolean(FLAG_RATE_KEYS[0])


# --- clients -------------------------------------------------------------------------------------------------------

CLIENT_KEYS = (
    "account", "name", "billing_email", "address", "province", "country", "plan", "term", "support_level",
    "terms_days", "start", "end", "tax_exempt", "rates", "prepaid_hours", "assets", "users", "manual_assets",
    "manual_users", "line_items", "notes", "contact", "phone", "currency",
)
LINE_ITEM_KINDS = ("monthly", "one_off", "yearly", "service")
LINE_ITEM_KEYS = LINE_ITEM_KINDS + ("name", "description", "month", "from", "until", "quantity", "rate", "taxable")


def read_clients(root: Path, settings: Settings, plans: dict[str, Plan], problems: list[Problem]) -> list[Client]:
    clients: list[Client] = []
    seen: dict[str, Client] = {}
    for path in sorted((root / "clients").glob("*.yaml")) if (root / "clients").is_dir() else []:
        data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
        if data is None:
            continue
        client = read_client(data, settings, plans, problems)
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
    if start and end and end < start:
        f.error("end", f"contract end {end} is before its start {start}")

    rates: dict[str, Decimal] = {}
    per_device = None
    if (rmap := f.mapping("rates")) is not None:
        rates, per_device = read_rates(Fields(rmap, problems, "rates"))
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
        backup_included_per_device=per_device,
        prepaid=prepaid,
        user_overrides=_read_overrides(f, "users", USER_KINDS, "user", UserOverride),
        asset_overrides=_read_overrides(f, "assets", ASSET_KINDS, "asset", AssetOverride),
        manual_users=_read_manual_users(f, problems),
        manual_assets=_read_manual_assets(f, problems),
        line_items=_read_line_items(f, problems),
    )
    return client if len(problems) == before else None


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
    for index, entry in enumerate(items or []):
        if not isinstance(entry, YMap):
            f.problems.append(Problem(Source(items.file, items.line_of(index)), f"{key}: each entry should be a mapping"))
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
            out.append(ManualAsset(m.text("hostname"), kind, rate, m.text("notes"),
                                   m.decimal("backup_tb", ZERO, what="a number of TB"), m.src()))
    return tuple(out)


def _read_line_items(f: Fields, problems: list[Problem]) -> tuple[LineItem, ...]:
    out = []
    for _, m in _entries(f, "line_items", "line item"):
        m.check_keys(LINE_ITEM_KEYS)
        kinds = [k for k in LINE_ITEM_KINDS if m.has(k)]
        if len(kinds) != 1:
            m.error(None, "a line item needs exactly one of monthly, one_off, yearly or service"
                    + (f" (it has {', '.join(kinds)})" if kinds else ""),
                    "e.g. {name: Cloud Hosting, monthly: 500.00}")
            continue
        kind = kinds[0]
        name = m.text("name")
        if kind != "service" and not name:
            m.error(None, "a line item needs a name")
            continue
        quantity = m.decimal("quantity", Decimal(1), what="a quantity")
        common = dict(kind=kind, name=name, description=m.text("description"), quantity=quantity,
                      source=m.src(), taxable=m.boolean("taxable"))
        if kind == "monthly":
            if m.has("month"):
                m.error("month", "a monthly item runs every month; use from/until to limit it")
            out.append(LineItem(rate=m.decimal("monthly", ZERO, what="an amount"), start=m.month("from"),
                                until=m.month("until"), **common))
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
            out.append(LineItem(rate=m.decimal("rate", what="a rate"), service=m.text("service"),
                                month=m.month("month"), start=m.month("from"), until=m.month("until"), **common))
    return tuple(out)


# --- all together ------------------------------------------------------------------------------------------------


def read_config(root: Path) -> Config:
    """The whole repo's YAML; raises InputErrors listing every problem found."""
    config, problems = read_config_collecting(root)
    if problems:
        raise InputErrors(problems)
    return config


def read_config_collecting(root: Path) -> tuple[Config | None, list[Problem]]:
    """The whole repo's YAML and every problem found; the Config is None when there are problems.

    `settings` is returned separately usable (via Config.settings) only when clean; callers that want to go on
    reading exports after a config problem use the timezone from `read_settings` themselves.
    """
    problems: list[Problem] = []
    settings = read_settings(root, problems)
    services = read_services(root, problems)
    plans = read_plans(root, problems)
    clients = read_clients(root, settings or Settings(Business("")), plans, problems)
    if settings is not None:
        for client in clients:
            for item in client.line_items:
                if item.kind == "service" and item.service not in services:
                    problems.append(Problem(item.source, f"service '{item.service}' is not in services.yaml",
                                            did_you_mean(item.service, services)))
    if problems:
        return (Config(settings, plans, tuple(clients), services) if settings else None), problems
    return Config(settings=settings, plans=plans, clients=tuple(clients), services=services), problems
