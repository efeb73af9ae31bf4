"""settings.yaml: business identity, currency, invoice numbering, tax registrations and rates, bank, smtp."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zoneinfo
from decimal import Decimal
from pathlib import Path

from ..core.errors import Problem, Source, did_you_mean
from ..core.model import (
    DEVICE_TYPES,
    Business,
    French,
    QuickBooks,
    Settings,
    Smtp,
    TaxRule,
)
from ..core.money import DEFAULT_FORMAT, NUMBER_FORMATS
from ..core.rules import invoice_number_problem
from ..core.tax import PROVINCES, REGISTRATIONS, TAX_NAMES
from .fields import Fields, normalize_word
from .sources import (
    BANK_CSV_ROLES,
    BEANCOUNT_ACCOUNT_RE,
    _expect_mapping,
    present,
    read_yaml_file,
)
from .yamlsrc import YList, YMap

# --- settings --------------------------------------------------------------------------------------------------

# The defaults of every setting are the dataclasses' own (core/config.py): one place, read from these instances.
DEFAULT = Settings(Business(""))
SMTP = Smtp()

SETTINGS_KEYS = ("business", "currency", "timezone", "invoice", "tax", "asset_types", "ledger", "bank", "smtp", "email",
                 "conversion_fee_pct", "number_format", "quickbooks", "imports")
BUSINESS_KEYS = ("name", "email", "phone", "website", "address", "province", "country", "tagline", "logo",
                 "registration")
INVOICE_KEYS = ("terms_days", "number", "footer", "payment_instructions")
TAX_KEYS = ("registrations", "local_country", "rates")
TAX_RATE_KEYS = ("name", "province", "rate", "from", "until", "registration")


def read_settings(root: Path, problems: list[Problem]) -> Settings | None:
    path = root / "settings.yaml"
    if not present(path):
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
            country=b.text("country", DEFAULT.local_country).upper(), tagline=b.text("tagline"), logo=b.text("logo"),
            registration=b.text("registration"),
        )
        if business.logo and not (root / business.logo).is_file():
            b.error("logo", f"logo '{business.logo}' is not a file in the billing repo", "e.g. logo: assets/logo.png")
    currency = f.text("currency", DEFAULT.currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        f.error("currency", f"currency '{currency}' is not a 3-letter code", "e.g. CAD")
    timezone = f.text("timezone", DEFAULT.timezone)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        f.error("timezone", f"unknown timezone '{timezone}'", "use a name like America/Toronto")
        timezone = "UTC"

    terms_days, invoice_number, footer, instructions = DEFAULT.terms_days, DEFAULT.invoice_number, "", ""
    footer_fr = instructions_fr = ""
    if (imap := f.mapping("invoice")) is not None:
        inv = Fields(imap, problems, "invoice")
        inv.check_keys(INVOICE_KEYS)
        terms_days = inv.integer("terms_days", DEFAULT.terms_days, low=0, high=3650)
        invoice_number = inv.text("number", invoice_number)
        footer, footer_fr = _by_language(inv, "footer")
        instructions, instructions_fr = _by_language(inv, "payment_instructions")
        if not _check_invoice_number(invoice_number, inv):
            invoice_number = DEFAULT.invoice_number  # reported; billing goes on to find other problems

    registrations: dict[str, str] = {}
    local_country = DEFAULT.local_country
    rules: list[TaxRule] = []
    if (tmap := f.mapping("tax")) is not None:
        tax = Fields(tmap, problems, "tax")
        tax.check_keys(TAX_KEYS)
        local_country = tax.text("local_country", DEFAULT.local_country).upper()
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
    bank_account, bank_csv, bank_accounts = DEFAULT.bank_account, {}, {}
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
            if c.has("number_format"):
                bank_csv["number_format"] = _number_format(c)
    return Settings(
        business=business,
        currency=currency,
        timezone=timezone,
        terms_days=terms_days,
        invoice_number=invoice_number,
        number_format=_number_format(f),
        footer=footer,
        registrations=registrations,
        local_country=local_country,
        asset_types=aliases,
        tax_rules=tuple(rules),
        bank_account=bank_account,
        bank_csv=bank_csv,
        bank_accounts=bank_accounts,
        conversion_fee_pct=f.decimal("conversion_fee_pct", Decimal(0), what="a percentage"),
        payment_instructions=instructions,
        french=French(footer_fr, instructions_fr),
        smtp=_read_smtp(f, problems, root),
        reminder_interval_days=_reminder_interval(f, problems),
        quickbooks=_read_quickbooks(f, problems),
    )


SMTP_KEYS = (
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "from_address",
    "from_name",
    "bcc",
    "timeout",
    "password",
)


def _read_smtp(f: Fields, problems: list[Problem], root: Path) -> Smtp:
    smap = f.mapping("smtp")
    if smap is None:
        return Smtp()
    s = Fields(smap, problems, "smtp")
    if "password" in smap:
        s.error(
            "password",
            "a password must not be written in settings.yaml (it would end up in git)",
            "set the environment variable named by smtp.password_env, or smtp.password_file outside the repo",
        )
    s.check_keys(SMTP_KEYS, required=("host", "from_address"))
    if (secret := s.text("password_file")) and (why := _committable(root, secret)):
        s.error(
            "password_file",
            why,
            "keep the password file outside the billing repo (e.g. "
            "~/.config/otb/smtp-password), or list it in .gitignore",
        )
    return Smtp(
        host=s.text("host"),
        port=s.integer("port", SMTP.port, low=1, high=65535) or SMTP.port,
        security=s.choice("security", ("starttls", "ssl", "none"), SMTP.security) or SMTP.security,
        username=s.text("username"),
        password_env=s.text("password_env", SMTP.password_env),
        password_file=s.text("password_file"),
        from_address=s.text("from_address"),
        from_name=s.text("from_name"),
        bcc=s.texts("bcc"),
        timeout=s.integer("timeout", SMTP.timeout, low=1, high=600) or SMTP.timeout,
    )


def _committable(root: Path, name: str) -> str:
    """Why a password file would end up in git (it is inside the billing repo and not git-ignored), or ""."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        inside = path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return ""
    try:
        ignored = (
            subprocess.run(
                ["git", "-C", str(root), "check-ignore", "-q", "--", inside.as_posix()], capture_output=True, timeout=10
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        ignored = False
    if ignored:
        return ""
    return f"smtp.password_file '{name}' is inside the billing repo and not git-ignored: it would be committed"


def _read_quickbooks(f: Fields, problems: list[Problem]) -> QuickBooks:
    qmap = f.mapping("quickbooks")
    if qmap is None:
        return QuickBooks()
    q = Fields(qmap, problems, "quickbooks")
    q.check_keys(("date_format", "tax_codes", "location"))
    date_format = q.text("date_format", QuickBooks().date_format)
    sample = dt.date(2024, 10, 31)
    try:
        round_trip = dt.datetime.strptime(sample.strftime(date_format), date_format).date()
    except ValueError:
        round_trip = None
    if round_trip != sample:
        q.error(
            "date_format",
            f"quickbooks.date_format '{date_format}' does not write a whole date that reads back",
            'use strftime codes, e.g. "%d/%m/%Y" (31/10/2024) or "%m/%d/%Y" (10/31/2024)',
        )
        date_format = QuickBooks().date_format
    codes: dict[str, str] = {}
    if (cmap := q.mapping("tax_codes")) is not None:
        c = Fields(cmap, problems, "quickbooks.tax_codes")
        for key in cmap:
            codes[str(key)] = c.text(key)
    return QuickBooks(date_format, codes, q.text("location"))


def _reminder_interval(f: Fields, problems: list[Problem]) -> int:
    emap = f.mapping("email")
    if emap is None:
        return 7
    e = Fields(emap, problems, "email")
    e.check_keys(("reminder_interval_days",))
    days = DEFAULT.reminder_interval_days
    return e.integer("reminder_interval_days", days, low=1, high=365) or days


def _number_format(f: Fields, key: str = "number_format", default: str = DEFAULT_FORMAT) -> str:
    """How numbers are written in exports and bank files: one of core.money.NUMBER_FORMATS."""
    style = f.text(key, default)
    if style not in NUMBER_FORMATS:
        f.error(
            key,
            f"number_format '{style}' is not one of: {', '.join(repr(s) for s in NUMBER_FORMATS)}",
            'e.g. number_format: "1 234,56" for decimal commas and spaces between thousands',
        )
        return default
    return style


def _by_language(f: Fields, key: str) -> tuple[str, str]:
    """A text written once (`footer: Thanks`) or per language (`footer: {en: Thanks, fr: Merci}`): (en, fr)."""
    texts = f.map.get(key)
    if not isinstance(texts, YMap):
        return f.text(key, multiline=True), ""
    t = Fields(texts, f.problems, f"invoice {key}")
    t.check_keys(("en", "fr"), required=("en",))
    return t.text("en", multiline=True), t.text("fr", multiline=True)


def _check_invoice_number(template: str, f: Fields) -> bool:
    """True when the template makes good invoice numbers; else the problem is recorded."""
    try:
        sample = template.format(account="620547", year=2024, month=10)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        f.error(
            "number",
            f"invoice.number '{template}' cannot be used: {exc}",
            "use the fields {account}, {year} and {month}, e.g. {account}-{year}{month:02d}",
        )
        return False
    if "{account" not in template or "{year" not in template or "{month" not in template:
        f.error(
            "number",
            f"invoice.number '{template}' must contain {{account}}, {{year}} and {{month}}",
            "numbers must be unique per client and month",
        )
        return False
    if why := invoice_number_problem(sample):
        f.error("number", f"invoice.number '{template}' gives '{sample}': {why}", "e.g. {account}-{year}{month:02d}")
        return False
    return True


def _read_tax_rules(rlist: YList, problems: list[Problem]) -> list[TaxRule]:
    rules = []
    for index, entry in enumerate(rlist):
        if not isinstance(entry, YMap):
            problems.append(
                Problem(Source(rlist.file, rlist.line_of(index)), "tax.rates: each entry should be a mapping")
            )
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
