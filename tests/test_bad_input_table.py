"""The table of bad inputs: every one gives a clear message (file:line and the fix where there is a file), a
non-zero exit, no traceback, and leaves every file of the repo exactly as it was.

Each row: what is wrong, how the repo is broken (or None), the command run, a part of the expected message, and
the exit status (1: the input is wrong; 2: the command line is). The base repo has clients A1 (Ontario, CAD) and
U1 (USD) with October 2024 billed and finalized, and an exchange rate for USD.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from conftest import GOLD, SERVICES, SETTINGS

from otb_billing.cli import main

ASSETS = "account,asset_id,hostname,type,backup_tb"
TICKETS = "account,ticket,subject,date,hours"
USERS = "account,user_id,name,email,active"
BANK = "date,amount,description,reference"
BILL = ("bill", "2024-10")


class R:
    """The repo of one case: a copy of the base, with helpers to break it."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def edit(self, relative: str, old: str, new: str) -> None:
        text = self.read(relative)
        assert old in text, (relative, old)
        self.write(relative, text.replace(old, new, 1))

    def append(self, relative: str, text: str) -> None:
        (self.root / relative).write_text(self.read(relative) + text, encoding="utf-8")

    def client(self, extra: str = "", account: str = "A1", name: str = "Client Co", province: str = "ON") -> None:
        body = f'account: "{account}"\nname: {name}\nprovince: {province}\nplan: Gold MSP Plan\nterm: "1 Year"\n'
        self.write(f"clients/{account}.yaml", body + textwrap.dedent(extra))

    def csv(self, name: str, header: str, *rows: str, month: str = "2024-10") -> None:
        self.write(f"exports/{month}/{name}", "\n".join((header,) + rows) + "\n")

    def raw(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def folder_instead(self, relative: str) -> None:
        path = self.root / relative
        if path.exists():
            path.unlink()
        (path / "inside").mkdir(parents=True)

    def dangling(self, relative: str) -> None:
        path = self.root / relative
        if path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(self.root / "nowhere" / "gone.csv")


class Case(NamedTuple):
    name: str
    mutate: Callable[[R], None] | None
    args: tuple[str, ...]
    expected: str
    exit: int = 1


def nested(depth: int) -> str:
    return 'account: "A1"\nname: Deep\nnotes: ' + "[" * depth + "]" * depth + "\n"


C = Case
CASES = [
    # --- YAML: syntax, types, values --------------------------------------------------------------------------
    C("yaml syntax", lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: [Client Co\nplan: Gold MSP Plan\n'),
      BILL, "clients/A1.yaml:3: YAML syntax error"),
    C("unknown rate key with a hint", lambda r: r.edit("plans/gold.yaml", "per_workstation", "per_worksation"), BILL,
      "plans/gold.yaml:6: unknown key 'per_worksation' in term '1 Year' (did you mean 'per_workstation'?)"),
    C("missing key", lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: Client Co\nprovince: ON\nterm: "1 Year"\n'),
      BILL, "clients/A1.yaml:1: missing required key 'plan'"),
    C("wrong type", lambda r: r.client("rates: {per_user: fifteen}\n"), BILL,
      "clients/A1.yaml:6: rates: 'per_user' should be a rate, not text 'fifteen'"),
    C("negative money", lambda r: r.client("rates:\n  per_user: -5.00\n"), BILL,
      "clients/A1.yaml:7: rates: 'per_user' is negative (-5.00)"),
    C("decimal comma in YAML", lambda r: r.client("rates:\n  per_hour: 150,00\n"), BILL,
      "clients/A1.yaml:7: rates: 'per_hour' is '150,00': a comma is not a decimal mark in YAML"),
    C("decimal comma in a YAML flow mapping", lambda r: r.client("rates: {per_hour: 150,00}\n"), BILL,
      "clients/A1.yaml:6: unknown key '00' in rates"),
    C("decimal comma quoted in YAML", lambda r: r.client('rates: {per_hour: "1,5"}\n'), BILL,
      "rates: 'per_hour' is '1,5': a comma is not a decimal mark in YAML"),
    C("huge rate", lambda r: r.client("rates: {per_user: 1e30}\n"), BILL,
      "clients/A1.yaml:6: rates: 'per_user': '100000000000000000000000...' is too large (the largest number otb "
      "reads is 999,999,999.99)"),
    C("huge whole number", lambda r: r.client("rates: {per_user: 1000000000000}\n"), BILL,
      "rates: 'per_user': '1000000000000' is too large"),
    C("too many decimals", lambda r: r.client("rates: {per_user: 0.000000000001}\n"), BILL,
      "rates: 'per_user': '0.000000000001' has more than 10 decimals"),
    C("huge quantity", lambda r: r.client("line_items:\n  - {service: CONSULT, quantity: 5e20}\n"), BILL,
      "line item 1: 'quantity': '500000000000000000000' is too large"),
    C("huge prepaid hours", lambda r: r.client("prepaid_hours: {monthly: 99999999999}\n"), BILL,
      "prepaid_hours: 'monthly': '99999999999' is too large"),
    C("not a number with a float tag", lambda r: r.client("rates: {per_user: !!float abc}\n"), BILL,
      "clients/A1.yaml:6: rates: 'per_user': 'abc' is not a number"),
    C("not a whole number with an int tag", lambda r: r.client("terms_days: !!int 0x1F\n"), BILL,
      "clients/A1.yaml:6: 'terms_days': '0x1F' is not a whole number"),
    C("not a date with a timestamp tag", lambda r: r.client("start: !!timestamp x\n"), BILL,
      "clients/A1.yaml:6: 'start': 'x' is not a date"),
    C("a day that does not exist", lambda r: r.client("start: 2024-02-30\n"), BILL,
      "clients/A1.yaml:6: 'start': '2024-02-30' is not a date"),
    C("a year too early", lambda r: r.client("start: 0001-01\n"), BILL,
      "clients/A1.yaml:6: 'start': '0001-01': the year must be between 1970 and 2999"),
    C("a year too late", lambda r: r.client("end: 9999-12\n"), BILL, "the year must be between 1970 and 2999"),
    C("bad month", lambda r: r.client("start: 2024-13\n"), BILL, "clients/A1.yaml:6: 'start': '2024-13' has no month 13"),
    C("end before start", lambda r: r.client("start: 2024-06\nend: 2024-01\n"), BILL,
      "clients/A1.yaml:7: contract end 2024-01 is before its start 2024-06"),
    C("nested 5000 deep", lambda r: r.write("clients/A1.yaml", nested(5000)), BILL, "clients/A1.yaml"),
    C("an unknown YAML tag", lambda r: r.client("notes: !python/object:os.system x\n"), BILL,
      "clients/A1.yaml:6: YAML syntax error"),
    C("a mapping where a list goes", lambda r: r.client("line_items: {name: x}\n"), BILL,
      "clients/A1.yaml:6: 'line_items' should be a list"),
    C("a list where a mapping goes", lambda r: r.client("prepaid_hours: [1, 2]\n"), BILL,
      "clients/A1.yaml:6: 'prepaid_hours' should be a mapping"),
    C("a list of rates that are not mappings", lambda r: r.client("rates: [1, 2]\n"), BILL,
      "clients/A1.yaml:6: rates: each entry should be a mapping of rates"),
    C("a rate change without its month", lambda r: r.client("rates:\n  - {per_user: 10}\n  - {per_user: 12}\n"),
      BILL, "clients/A1.yaml:8: rates: a rate change needs the month it starts from"),
    C("rate changes out of order", lambda r: r.client("rates:\n  - {from: 2024-11, per_user: 10}\n"
                                                     "  - {from: 2024-06, per_user: 12}\n"), BILL,
      "clients/A1.yaml:8: rates: changes must be in order of their from: 2024-06 is not after 2024-11"),
    C("a plan proration that does not exist", lambda r: r.edit("plans/gold.yaml", "support_level: hourly",
                                                                "support_level: hourly\nproration: hourly"), BILL,
      "plans/gold.yaml:3: 'proration' is 'hourly', not one of: daily"),
    C("a client file that is a list", lambda r: r.write("clients/A1.yaml", "- a\n- b\n"), BILL,
      "clients/A1.yaml:1: should hold key: value lines"),
    C("an empty client file", lambda r: r.write("clients/A1.yaml", ""), BILL, "clients/A1.yaml:1: the file is empty"),
    C("a client file that is a folder", lambda r: r.folder_instead("clients/A1.yaml"), BILL,
      "clients/A1.yaml: is a folder, not a file"),
    C("a client file that is a broken link", lambda r: r.dangling("clients/B9.yaml"), BILL,
      "clients/B9.yaml: is a link to"),
    C("client file not UTF-8", lambda r: r.raw("clients/A1.yaml", b'account: "A1"\nname: Ren\xe9\n'), BILL,
      "clients/A1.yaml: not UTF-8 text"),
    C("a line break in a client name", lambda r: r.client(name='"Acme\\nCorp"'), BILL,
      "clients/A1.yaml:2: 'name' has a line break or a control character"),
    C("a control character in a client name", lambda r: r.client(name='"Acme\\u0007"'), BILL,
      "'name' has a line break or a control character"),
    C("a line break in an address line", lambda r: r.client('address: ["1 Main\\nSt"]\n'), BILL,
      "'address': an entry has a line break or a control character"),
    C("duplicate account", lambda r: r.write("clients/zz-copy.yaml", r.read("clients/A1.yaml")), BILL,
      "clients/zz-copy.yaml: account 'A1' is also used by clients/A1.yaml"),
    C("unknown plan", lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: C\nprovince: ON\nplan: Gold Plan\nterm: "1 Year"\n'),
      BILL, "clients/A1.yaml:4: unknown plan 'Gold Plan' (did you mean 'Gold MSP Plan'?)"),
    C("unknown term", lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: C\nprovince: ON\nplan: Gold MSP Plan\nterm: 2 Year\n'),
      BILL, "clients/A1.yaml:5: plan 'Gold MSP Plan' has no term '2 Year' (did you mean '1 Year'?)"),
    C("unknown service in a line item", lambda r: r.client("line_items:\n  - {service: CONSULTING, quantity: 2}\n"), BILL,
      "clients/A1.yaml:7: service 'CONSULTING' is not in services.yaml (did you mean 'CONSULT'?)"),
    C("duplicate YAML key", lambda r: r.client("name: Again\n"), BILL,
      "clients/A1.yaml:6: YAML syntax error: duplicate key 'name' (it appears earlier on line 2)"),
    C("unknown province", lambda r: r.client(province="ONT"), BILL,
      "clients/A1.yaml:3: unknown province 'ONT' (did you mean 'ON'?)"),
    C("missing province", lambda r: r.write("clients/A1.yaml", 'account: "A1"\nname: C\nplan: Gold MSP Plan\nterm: "1 Year"\n'),
      BILL, "clients/A1.yaml:1: missing 'province'"),
    C("unsafe account", lambda r: r.write("clients/A1.yaml", 'account: "A1/../x"\nname: C\nprovince: ON\nplan: Gold MSP Plan\nterm: "1 Year"\n'),
      BILL, "clients/A1.yaml:1: account 'A1/../x' has characters that are not allowed"),
    C("custom override without a rate", lambda r: r.client("assets:\n  d1: custom\n"), BILL,
      "clients/A1.yaml:7: asset 'd1' is custom but has no rate"),
    C("override with a rate but no custom type", lambda r: r.client("assets:\n  d1: {type: server, rate: 5}\n"), BILL,
      "asset 'd1' has a rate but type 'server'"),
    C("unknown user override", lambda r: r.client("users:\n  u1: vip\n"), BILL,
      "clients/A1.yaml:7: user 'u1': 'vip' is not one of: paid, free, custom"),
    C("manual asset with a rate but no custom type", lambda r: r.client("manual_assets:\n  - {hostname: X, type: workstation, rate: 5}\n"),
      BILL, "clients/A1.yaml:7: a rate goes with type: custom, not 'workstation'"),
    C("manual asset with negative backup", lambda r: r.client("manual_assets:\n  - {hostname: X, type: server, backup_tb: -1}\n"),
      BILL, "manual asset 1: 'backup_tb' is negative (-1)"),
    C("line item with two kinds", lambda r: r.client("line_items:\n  - {name: X, monthly: 5, one_off: 6, month: 2024-10}\n"),
      BILL, "clients/A1.yaml:7: a line item needs exactly one of monthly, one_off, yearly or service"),
    C("one-off item without a month", lambda r: r.client("line_items:\n  - {name: X, one_off: 6}\n"), BILL,
      "a one_off item needs the month it is billed in"),
    C("yearly item in month 13", lambda r: r.client("line_items:\n  - {name: X, yearly: 6, month: 13}\n"), BILL,
      "line item 1: 'month' is 13; it should be between 1 and 12"),
    C("line item without a name", lambda r: r.client("line_items:\n  - {monthly: 6}\n"), BILL, "a line item needs a name"),
    C("prepaid hours negative", lambda r: r.client("prepaid_hours: {monthly: -5}\n"), BILL,
      "prepaid_hours: 'monthly' is negative (-5)"),
    C("prepaid pool month 13", lambda r: r.client("prepaid_hours: {yearly: 10, year_starts_month: 13}\n"), BILL,
      "'year_starts_month' is 13"),
    C("bad email", lambda r: r.client("billing_email: ap at acme.example\n"), BILL,
      "clients/A1.yaml:6: 'ap at acme.example' is not an email address"),
    C("an email list entry that is a mapping", lambda r: r.client("billing_email: [{a: b}]\n"), BILL,
      "'billing_email': each entry should be text"),
    C("client currency not a code", lambda r: r.client("currency: DOLLARS\n"), BILL,
      "clients/A1.yaml:6: currency 'DOLLARS' is not a 3-letter code"),
    C("terms days too many", lambda r: r.client("terms_days: 99999\n"), BILL,
      "'terms_days' is 99999; it should be between 0 and 3650"),
    C("unknown support level", lambda r: r.client("support_level: Forever\n"), BILL,
      "'support_level' is 'Forever', not one of: hourly, flat"),
    # --- plans and services ---------------------------------------------------------------------------------
    C("plan support level", lambda r: r.edit("plans/gold.yaml", "support_level: hourly", "support_level: always"), BILL,
      "plans/gold.yaml:2: 'support_level' is 'always', not one of: hourly, flat"),
    C("plan file empty", lambda r: r.write("plans/gold.yaml", ""), BILL, "plans/gold.yaml:1: the file is empty"),
    C("plan file a list", lambda r: r.write("plans/gold.yaml", "- Gold\n"), BILL, "plans/gold.yaml:1: should hold key: value lines"),
    C("duplicate plan name", lambda r: r.write("plans/gold2.yaml", r.read("plans/gold.yaml")), BILL,
      "plans/gold2.yaml:1: duplicate plan name 'Gold MSP Plan' (also in plans/gold.yaml)"),
    C("plan term not a mapping", lambda r: r.append("plans/gold.yaml", '  "2 Year": 15\n'), BILL,
      "term '2 Year' should be a mapping of rates"),
    C("plan rate with a decimal comma", lambda r: r.edit("plans/gold.yaml", "per_user: 15.00", "per_user: 15,00"), BILL,
      "plans/gold.yaml:5: term '1 Year': 'per_user' is '15,00': a comma is not a decimal mark in YAML"),
    C("plan rate huge", lambda r: r.edit("plans/gold.yaml", "per_user: 15.00", "per_user: 1.5e12"), BILL,
      "term '1 Year': 'per_user': '1500000000000' is too large"),
    C("services not a list", lambda r: r.write("services.yaml", "CONSULT: 125\n"), BILL,
      "services.yaml:1: services.yaml should be a list of services"),
    C("duplicate service code", lambda r: r.append("services.yaml", "- {code: CONSULT, name: Again, rate: 1}\n"), BILL,
      "duplicate service code 'CONSULT'"),
    C("service without a rate", lambda r: r.append("services.yaml", "- {code: X, name: X}\n"), BILL,
      "services.yaml:3: missing required key 'rate' in service"),
    C("service rate huge", lambda r: r.append("services.yaml", "- {code: X, name: X, rate: 1e15}\n"), BILL,
      "service: 'rate': '1000000000000000' is too large"),
    # --- settings -----------------------------------------------------------------------------------------
    C("bad timezone", lambda r: r.edit("settings.yaml", "America/Toronto", "Toronto"), BILL,
      "settings.yaml:3: unknown timezone 'Toronto'"),
    C("invoice number without the account", lambda r: r.edit("settings.yaml", '"{account}-{year}{month:02d}"',
                                                                '"INV-{year}{month:02d}"'), BILL,
      "settings.yaml:4: invoice.number 'INV-{year}{month:02d}' must contain {account}, {year} and {month}"),
    C("invoice number that climbs out of the repo", lambda r: r.edit(
        "settings.yaml", '"{account}-{year}{month:02d}"', '"{account}/../../x/{year}{month:02d}"'), BILL,
      "invoice.number '{account}/../../x/{year}{month:02d}' gives '620547/../../x/202410': invoice number "
      "'620547/../../x/202410' has characters an invoice number cannot hold"),
    C("invoice number too long for QuickBooks", lambda r: r.edit(
        "settings.yaml", '"{account}-{year}{month:02d}"', '"INVOICE-{account}-{year}-{month:02d}-X"'), BILL,
      "has 24 characters; QuickBooks takes at most 21"),
    C("an account too long for its invoice number", lambda r: r.client(account="ACCOUNT-WITH-A-LONG-NAME"), BILL,
      "invoice number 'ACCOUNT-WITH-A-LONG-NAME-202410' has 31 characters; QuickBooks takes at most 21"),
    C("invoice number template broken", lambda r: r.edit("settings.yaml", '"{account}-{year}{month:02d}"',
                                                          '"{account}-{year}{month:02d"'), BILL,
      "invoice.number '{account}-{year}{month:02d' cannot be used"),
    C("number format unknown", lambda r: r.append("settings.yaml", 'number_format: "1_234.56"\n'), BILL,
      "settings.yaml:9: number_format '1_234.56' is not one of"),
    C("settings currency not a code", lambda r: r.edit("settings.yaml", "currency: CAD", "currency: CA"), BILL,
      "settings.yaml:2: currency 'CA' is not a 3-letter code"),
    C("unknown tax registration", lambda r: r.edit("settings.yaml", "GST/HST:", "HST:"), BILL,
      "unknown tax registration 'HST'"),
    C("tax rate for an unknown province", lambda r: r.edit("settings.yaml", "  local_country: CA\n",
                                                           "  local_country: CA\n  rates: [{name: HST, province: ZZ, rate: 13}]\n"),
      BILL, "settings.yaml:8: unknown province 'ZZ'"),
    C("asset type alias to a printer", lambda r: r.edit("settings.yaml", "laptop: workstation", "laptop: printer"), BILL,
      "settings.yaml:8: asset_types: 'laptop' maps to 'printer', which is not a device type"),
    C("bank account not an account", lambda r: r.append("settings.yaml", "bank: {account: bank}\n"), BILL,
      "'bank' is not a Beancount account name"),
    C("smtp password in settings", lambda r: r.append("settings.yaml", "smtp: {host: h, from_address: a@b.c, password: x}\n"),
      BILL, "a password must not be written in settings.yaml"),
    C("smtp password file in the repo", lambda r: r.append("settings.yaml", "smtp: {host: h, from_address: a@b.c, "
                                                            "password_file: secret.txt}\n"), BILL,
      "smtp.password_file 'secret.txt' is inside the billing repo and not git-ignored"),
    C("conversion fee negative", lambda r: r.append("settings.yaml", "conversion_fee_pct: -2\n"), BILL,
      "'conversion_fee_pct' is negative (-2)"),
    C("reminder interval zero", lambda r: r.append("settings.yaml", "email: {reminder_interval_days: 0}\n"), BILL,
      "'reminder_interval_days' is 0; it should be between 1 and 365"),
    C("footer in an unknown language", lambda r: r.edit("settings.yaml", 'footer: "Thanks"', 'footer: {en: Thanks, de: Danke}'),
      BILL, "unknown key 'de'"),
    C("client language unknown", lambda r: r.append("clients/A1.yaml", "language: french\n"), BILL,
      "'language' is 'french', not one of: en, fr, bilingual"),
    C("logo that is not there", lambda r: r.edit("settings.yaml", "country: CA}", "country: CA, logo: logo.png}"), BILL,
      "logo 'logo.png' is not a file in the billing repo"),
    C("settings empty", lambda r: r.write("settings.yaml", ""), BILL, "settings.yaml:1: the file is empty"),
    C("settings a list", lambda r: r.write("settings.yaml", "- a\n"), BILL, "settings.yaml:1: should hold key: value lines"),
    C("settings without a business name", lambda r: r.edit("settings.yaml", "name: Test MSP, ", ""), BILL,
      "missing required key 'name' in business"),
    C("settings a folder", lambda r: r.folder_instead("settings.yaml"), BILL, "settings.yaml: is a folder, not a file"),
    C("settings a broken link", lambda r: r.dangling("settings.yaml"), BILL, "settings.yaml: is a link to"),
    C("settings not UTF-8", lambda r: r.raw("settings.yaml", b"business: {name: Caf\xe9}\n"), BILL,
      "settings.yaml: not UTF-8 text"),
    # --- exports ------------------------------------------------------------------------------------------
    C("duplicate asset id", lambda r: r.csv("assets.csv", ASSETS, "A1,d1,PC1,workstation,", "A1,d1,PC2,workstation,"), BILL,
      "exports/2024-10/assets.csv:3: duplicate asset_id 'd1' (first on line 2)"),
    C("duplicate user id", lambda r: r.csv("users.csv", USERS, "A1,u1,One,,true", "A1,u1,Two,,true"), BILL,
      "exports/2024-10/users.csv:3: duplicate user_id 'u1' (first on line 2)"),
    C("unknown asset type", lambda r: r.csv("assets.csv", ASSETS, "A1,d1,PC1,workstation,", "A1,d2,LASER,printer,"), BILL,
      "exports/2024-10/assets.csv:3: asset d2 (LASER) has type 'printer', which is not a device type"),
    C("bad ticket date", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,10/05/2024,1"), BILL,
      "exports/2024-10/tickets.csv:2: 'date' is '10/05/2024', which is not a date"),
    C("a ticket day that does not exist", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-32,1"), BILL,
      "exports/2024-10/tickets.csv:2: 'date' is '2024-10-32', which is not a date"),
    C("a ticket time past year 9999 in the repo's zone", lambda r: r.csv("tickets.csv", TICKETS,
                                                                            "A1,T1,x,9999-12-31T23:30:00-04:00,1"),
      BILL, "exports/2024-10/tickets.csv:2: 'date' is '9999-12-31T23:30:00-04:00', which is out of range"),
    C("time row outside the month", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-11-02,1"), BILL,
      "exports/2024-10/tickets.csv:2: time entry dated 2024-11-02 (America/Toronto) is outside 2024-10"),
    C("missing CSV column", lambda r: r.csv("assets.csv", "account,hostname,type", "A1,PC1,workstation"), BILL,
      "exports/2024-10/assets.csv:1: missing required column(s): asset_id"),
    C("hours not a number", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-02,two"), BILL,
      "exports/2024-10/tickets.csv:2: 'hours': 'two' is not a number in the format 1,234.56"),
    C("hours with a decimal comma", lambda r: r.csv("tickets.csv", TICKETS, 'A1,T1,x,2024-10-02,"1,5"'), BILL,
      "exports/2024-10/tickets.csv:2: 'hours': '1,5' is not a number in the format 1,234.56 (it would be in the "
      "format 1 234,56)"),
    C("hours European style", lambda r: r.csv("tickets.csv", TICKETS, 'A1,T1,x,2024-10-02,"1.000,5"'), BILL,
      "'hours': '1.000,5' is not a number in the format 1,234.56"),
    C("hours negative", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-02,-2"), BILL,
      "exports/2024-10/tickets.csv:2: 'hours' is negative (-2)"),
    C("hours huge", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-02,1000000000000"), BILL,
      "'hours': '1000000000000' is too large"),
    C("hours with an exponent", lambda r: r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-02,1e30"), BILL,
      "'hours': '1e30' is written with an exponent"),
    C("backup TB with a decimal comma", lambda r: r.csv("assets.csv", ASSETS, 'A1,d1,PC1,workstation,"0,5"'), BILL,
      "exports/2024-10/assets.csv:2: 'backup_tb': '0,5' is not a number in the format 1,234.56"),
    C("backup TB huge", lambda r: r.csv("assets.csv", ASSETS, "A1,d1,PC1,workstation,99999999999"), BILL,
      "'backup_tb': '99999999999' is too large"),
    C("backup TB negative", lambda r: r.csv("assets.csv", ASSETS, "A1,d1,PC1,workstation,-1"), BILL,
      "exports/2024-10/assets.csv:2: 'backup_tb' is negative (-1)"),
    C("usage quantity empty", lambda r: r.csv("usage.csv", "account,service,quantity", "A1,CONSULT,"), BILL,
      "exports/2024-10/usage.csv:2: empty 'quantity'"),
    C("usage quantity huge", lambda r: r.csv("usage.csv", "account,service,quantity", "A1,CONSULT,1e30"), BILL,
      "'quantity': '1e30' is written with an exponent"),
    C("usage quantity with a space", lambda r: r.csv("usage.csv", "account,service,quantity", "A1,CONSULT,12 345"),
      BILL, "'quantity': '12 345' is not a number in the format 1,234.56"),
    C("hours with a dot where commas are the decimal mark", lambda r: (
        r.append("settings.yaml", 'number_format: "1 234,56"\n'),
        r.csv("tickets.csv", TICKETS, "A1,T1,x,2024-10-02,1.5")), BILL,
      "'hours': '1.5' is not a number in the format 1 234,56 (it would be in the format 1,234.56)"),
    C("an unbalanced quote", lambda r: r.csv("tickets.csv", TICKETS, 'A1,T1,"Printer,2024-10-02,1', "A1,T2,x,2024-10-03,1"),
      BILL, "exports/2024-10/tickets.csv:2: a quote opened on this line is not closed: the cell runs on to line 3"),
    C("a comma inside an unquoted value", lambda r: r.csv("users.csv", USERS, "A1,u1,Smith, John,js@x.example,true"),
      BILL, "exports/2024-10/users.csv:2: the row has 6 cells but the header names 5 columns"),
    C("unsafe account in a row is just unknown", lambda r: r.csv("users.csv", USERS, "A1,u1,One,,maybe"), BILL,
      "exports/2024-10/users.csv:2: 'active' is 'maybe' (write true/false, yes/no or 1/0)"),
    C("an empty export", lambda r: r.write("exports/2024-10/users.csv", ""), BILL,
      "exports/2024-10/users.csv:1: the file is empty"),
    C("an export that is a folder", lambda r: r.folder_instead("exports/2024-10/users.csv"), BILL,
      "exports/2024-10/users.csv: is a folder, not a file"),
    C("an export that is a broken link", lambda r: r.dangling("exports/2024-10/users.csv"), BILL,
      "exports/2024-10/users.csv: is a link to"),
    C("the month's exports a file", lambda r: (shutil.rmtree(r.root / "exports/2024-10"),
                                               r.write("exports/2024-10", "x")), BILL,
      "exports/2024-10: is not a folder"),
    C("export not UTF-8", lambda r: r.raw("exports/2024-10/users.csv", b"account,user_id,name\nA1,u1,Ren\xe9\n"), BILL,
      "exports/2024-10/users.csv: not UTF-8 text"),
    C("unknown service in usage.csv", lambda r: r.csv("usage.csv", "account,service,quantity", "A1,IPFS,3"), BILL,
      "exports/2024-10/usage.csv:2: service 'IPFS' is not in services.yaml"),
    C("hand-broken ledger", lambda r: r.edit("ledger/invoices/2024/2024-10.beancount", " CAD\n", " CAD CAD\n"), BILL,
      "ledger/invoices/2024/2024-10.beancount:"),
    C("a payments file nothing includes", lambda r: r.write("ledger/payments/2031.beancount", "; stray\n"),
      ("pay", "A1", "10.00", "--date", "2024-11-20"), "ledger/payments/2031.beancount is not included"),
    # --- the command line ------------------------------------------------------------------------------------
    C("month zero", None, ("bill", "0000-01"), "the year must be between 1970 and 2999", 2),
    C("month 9999-12", None, ("bill", "9999-12"), "the year must be between 1970 and 2999", 2),
    C("month 13", None, ("bill", "2024-13"), "has no month 13", 2),
    C("month as a word", None, ("bill", "October"), "write it as YYYY-MM", 2),
    C("bill an unknown client", None, ("bill", "2024-10", "--client", "A9"), "--client A9: no client file has this account"),
    C("adjust an unknown client", None, ("bill", "2024-10", "--adjust", "A9", "--date", "2024-11-15"),
      "--client A9: no client file has this account"),
    C("pay a negative amount", None, ("pay", "A1", "-5"), "amount -5: must be more than zero"),
    C("pay with a decimal comma", None, ("pay", "A1", "150,00"), "'150,00' is not a number in the format 1,234.56", 2),
    C("pay European style", None, ("pay", "A1", "1.000,00"), "'1.000,00' is not a number in the format 1,234.56", 2),
    C("pay a tenth of a cent", None, ("pay", "A1", "10.005", "--date", "2024-11-20"),
      "amount 10.005: has more than two decimals"),
    C("pay with an exponent", None, ("pay", "A1", "1e30"), "'1e30' is written with an exponent", 2),
    C("pay a huge amount", None, ("pay", "A1", "99999999999", "--date", "2024-11-20"), "is too large", 2),
    C("pay dated year 1", None, ("pay", "A1", "10", "--date", "0001-01-01"), "the year must be between 1970 and 2999", 2),
    C("pay dated a day that does not exist", None, ("pay", "A1", "10", "--date", "2024-02-30"), "is not a date", 2),
    C("pay an unknown client", None, ("pay", "A9", "10", "--date", "2024-11-20"), "no client has account A9"),
    C("pay an unknown invoice", None, ("pay", "A1", "10", "--date", "2024-11-20", "--invoice", "A1-209901"),
      "--invoice A1-209901: no invoice of client A1 has this number"),
    C("pay an invoice dated after the payment", None, ("pay", "A1", "10", "--date", "2024-10-01", "--invoice", "A1-202410"),
      "--invoice A1-202410 is dated 2024-10-31, after the payment (2024-10-01)"),
    C("pay a reference with a line break", None, ("pay", "A1", "10", "--ref", "A\nB"), "has a line break", 2),
    C("pay a reference used for another payment", lambda r: None, ("pay", "A1", "11.00", "--date", "2024-11-21", "--ref", "CHQ-1"),
      "payment CHQ-1 is already recorded (2024-11-20, 10.00 from A1)"),
    C("pay without an amount", None, ("pay", "A1"), "give ACCOUNT and AMOUNT", 2),
    C("reverse an unknown payment", None, ("pay", "--reverse", "NOPE", "--date", "2024-11-25"), "no payment NOPE in the ledger"),
    C("reverse before the payment", None, ("pay", "--reverse", "CHQ-1", "--date", "2024-11-01"),
      "a reversal cannot be dated 2024-11-01, before the payment (2024-11-20)"),
    C("reverse with an amount", None, ("pay", "A1", "10", "--reverse", "CHQ-1"), "--reverse REF takes no ACCOUNT or AMOUNT", 2),
    C("credit a huge amount", None, ("credit", "A1-202410", "--amount", "1e30", "--reason", "x"),
      "'1e30' is written with an exponent", 2),
    C("credit zero", None, ("credit", "A1-202410", "--amount", "0", "--reason", "x", "--date", "2024-11-20"),
      "credit amount 0: must be more than zero"),
    C("credit a tenth of a cent", None, ("credit", "A1-202410", "--amount", "1.005", "--reason", "x", "--date", "2024-11-20"),
      "has more than two decimals"),
    C("credit more than the invoice", None, ("credit", "A1-202410", "--amount", "999.00", "--reason", "x",
                                             "--date", "2024-11-20"), "a credit of 999.00 is more than what is left of A1-202410 (33.90)"),
    C("credit dated before its invoice", None, ("credit", "A1-202410", "--amount", "5.00", "--reason", "x",
                                                "--date", "2024-10-01"),
      "a credit note on A1-202410 cannot be dated 2024-10-01, before the invoice (2024-10-31)"),
    C("credit without a reason", None, ("credit", "A1-202410", "--amount", "5.00", "--reason", " ", "--date", "2024-11-20"),
      "a credit note needs --reason"),
    C("credit a reason with a line break", None, ("credit", "A1-202410", "--amount", "5", "--reason", "a\nb"),
      "has a line break", 2),
    C("credit an unknown invoice", None, ("credit", "A9-202410", "--amount", "5.00", "--reason", "x", "--date", "2024-11-20"),
      "no invoice A9-202410 in the ledger"),
    C("credit both an amount and in full", None, ("credit", "A1-202410", "--amount", "5", "--full", "--reason", "x"),
      "give exactly one of --amount X or --full", 2),
    C("rate far too small", None, ("fx", "set", "USD", "0.0000001", "--date", "2024-11-01"),
      "USD rate 0.0000001 on 2024-11-01 is outside 0.000001 to 1,000,000 CAD per USD"),
    C("rate zero", None, ("fx", "set", "USD", "0", "--date", "2024-11-01"), "USD rate on 2024-11-01 must be positive"),
    C("rate negative", None, ("fx", "set", "USD", "-1.3", "--date", "2024-11-01"), "USD rate on 2024-11-01 must be positive"),
    C("rate of the books' own currency", None, ("fx", "set", "CAD", "1.3", "--date", "2024-11-01"),
      "'CAD' is not a foreign currency code"),
    C("rate with an exponent", None, ("fx", "set", "USD", "1e30"), "'1e30' is written with an exponent", 2),
    C("rate dated year 1", None, ("fx", "set", "USD", "1.3", "--date", "0001-01-01"), "the year must be between", 2),
    C("rates file with a bad number", lambda r: r.write("rates.csv", "date,currency,rate\n2024-11-01,USD,1;3\n"),
      ("fx", "import", "rates.csv"), "rates.csv:2: 'rate': '1;3' is not a number"),
    C("rates file with a bad date", lambda r: r.write("rates.csv", "date,currency,rate\n2024-11-31,USD,1.3\n"),
      ("fx", "import", "rates.csv"), "rates.csv:2: 'date' is '2024-11-31', which is not a date"),
    C("rates file without its columns", lambda r: r.write("rates.csv", "day,rate\n2024-11-01,1.3\n"),
      ("fx", "import", "rates.csv"), "rates.csv:1: the header must name date, currency and rate"),
    C("bank amount European style", lambda r: r.write("bank.csv", BANK + '\n2024-11-20,"1.234,56",ACME,B1\n'),
      ("import-payments", "bank.csv"), "bank.csv:2: amount: '1.234,56' is not a number in the format 1,234.56"),
    C("bank amount with a decimal comma", lambda r: r.write("bank.csv", BANK + '\n2024-11-20,"33,90",A1,B1\n'),
      ("import-payments", "bank.csv"), "bank.csv:2: amount: '33,90' is not a number in the format 1,234.56"),
    C("bank amount a tenth of a cent", lambda r: r.write("bank.csv", BANK + "\n2024-11-20,10.005,A1,B1\n"),
      ("import-payments", "bank.csv"), "bank.csv:2: amount: '10.005' has more than two decimals"),
    C("bank amount huge", lambda r: r.write("bank.csv", BANK + "\n2024-11-20,1e30,A1,B1\n"),
      ("import-payments", "bank.csv"), "bank.csv:2: amount: '1e30' is written with an exponent"),
    C("bank date that does not exist", lambda r: r.write("bank.csv", BANK + "\n2024-13-01,10.00,A1,B1\n"),
      ("import-payments", "bank.csv"), "bank.csv:2: date '2024-13-01' is not a date"),
    C("bank unbalanced quote", lambda r: r.write("bank.csv", BANK + '\n2024-11-20,10.00,"A1,B1\n2024-11-21,5,A1,B2\n'),
      ("import-payments", "bank.csv"), "bank.csv:2: a quote opened on this line is not closed"),
    C("bank without an amount column", lambda r: r.write("bank.csv", "date,description\n2024-11-20,A1\n"),
      ("import-payments", "bank.csv"), "bank.csv:1: missing column(s) amount"),
    C("bank file not UTF-8", lambda r: r.raw("bank.csv", b"date,amount,description\n2024-11-20,10,Caf\xe9\n"),
      ("import-payments", "bank.csv"), "bank.csv: not UTF-8 text"),
    C("bank file that is not there", None, ("import-payments", "nothing.csv"), "does not exist", 2),
    C("finalize a month never billed", None, ("finalize", "2024-03"), "2024-03 has not been billed"),
    C("finalize month 13", None, ("finalize", "2024-13"), "has no month 13", 2),
    C("status on year 1", None, ("status", "--as-of", "0001-01-01"), "the year must be between", 2),
    C("statement of an unknown client", None, ("statement", "A9"), "no client A9 in the ledger"),
    C("show an unknown invoice", None, ("show", "A9-202410"), "no invoice A9-202410 in the ledger"),
    C("export a month never billed", None, ("export", "2024-03"), "2024-03 has not been billed"),
    C("email without smtp settings", lambda r: r.client("billing_email: ap@client.example\n"),
      ("email", "2024-10", "--at", "2024-11-02T10:00:00Z"), "no smtp settings"),
    C("a root that is not there", None, ("bill", "2024-10"), "no such folder"),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "repo"
    r = R(root)
    r.write("settings.yaml", SETTINGS)
    r.write("plans/gold.yaml", GOLD)
    r.write("services.yaml", SERVICES)
    r.client()
    r.client("currency: USD\n", account="U1", name="Union Co")
    r.csv("users.csv", USERS, "A1,u1,One,,true", "A1,u2,Two,,true", "U1,u3,Three,,true")
    for args in (("fx", "set", "USD", "1.2500", "--date", "2024-10-31"), ("bill", "2024-10"),
                 ("finalize", "2024-10", "--at", "2024-11-01T12:00:00Z"),
                 ("pay", "A1", "10.00", "--date", "2024-11-20", "--ref", "CHQ-1")):
        result = CliRunner().invoke(main, [*args, "--root", str(root)], catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == ".otb" or path.name == ".otb.lock":
            continue
        files[relative.as_posix()] = path.read_bytes() if path.is_file() else (
            b"->" + str(os.readlink(path)).encode() if path.is_symlink() else b"<dir>")
    return files


def test_the_table_has_all_its_rows():
    assert len(CASES) >= 130
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_a_clear_error_and_writes_nothing(base, tmp_path, case):
    root = tmp_path / "repo"
    shutil.copytree(base, root, symlinks=True)
    if case.mutate is not None:
        case.mutate(R(root))
    before = snapshot(root)
    args = [str(root / a) if a in ("rates.csv", "bank.csv", "nothing.csv") else a for a in case.args]
    target = tmp_path / "no-such-repo" if case.name == "a root that is not there" else root
    result = CliRunner().invoke(main, [*args, "--root", str(target)], catch_exceptions=False)
    assert result.exit_code == case.exit, result.output
    assert case.expected in result.output, result.output
    assert "Traceback" not in result.output
    if case.exit == 1 and "Nothing was written" not in result.output:
        assert "Error:" in result.output, result.output
    assert snapshot(root) == before
