"""Fuzzing every input reader with mutated inputs (hypothesis): client YAML, the four exports and bank statements.

Each example takes a valid file and applies a few random edits (characters YAML and CSV care about, decimal commas,
exponents, impossible dates, YAML tags, control characters, truncation, repeated lines), then reads it the way
`otb bill` and `otb import-payments` do, and bills what was read. Whatever the edit, the result is either data or
problems with a source: never an exception. 3,400 examples each, 10,200 in all (10,000+ asked for by issue 7).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import GOLD, SERVICES, SETTINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otb_billing.core.billing import bill_month
from otb_billing.core.errors import InputErrors
from otb_billing.core.model import Config
from otb_billing.core.money import NUMBER_FORMATS, parse_number
from otb_billing.core.month import Month
from otb_billing.readers.bank import read_bank_csv
from otb_billing.readers.catalog import read_plans, read_services
from otb_billing.readers.clients import read_client
from otb_billing.readers.config import read_config
from otb_billing.readers.exports import read_exports
from otb_billing.readers.settings import read_settings
from otb_billing.readers.sources import _expect_mapping, read_yaml_file

EXAMPLES = 3400
MONTH = Month(2024, 10)
CLIENT = textwrap.dedent("""\
    account: "A1"
    name: Acme Corporation
    billing_email: [ap@acme.example]
    address: ["100 Acme Way", "Toronto ON"]
    province: ON
    plan: Gold MSP Plan
    term: "1 Year"
    terms_days: 15
    start: 2024-01
    end: 2025-12
    rates: {per_workstation: 65.00, per_hour: 150.00}
    prepaid_hours: {monthly: 2, yearly: 10, year_starts_month: 4}
    assets:
      "d1": server
      "d2": {type: custom, rate: 50.00}
      "d3": no_charge
    users:
      "u1": free
      "u2": {type: custom, rate: 10.00}
    manual_assets: [{hostname: BYOD-01, type: workstation, backup_tb: 0.25}]
    manual_users: [{name: Jane Contractor, type: paid}]
    line_items:
      - {name: Cloud Hosting, monthly: 500.00, from: 2024-01}
      - {name: Network Upgrade, one_off: 2500.00, month: 2024-10}
      - {name: SSL Renewal, yearly: 120.00, month: 10}
      - {service: CONSULT, quantity: 6.5, month: 2024-10, description: "Firewall migration"}
    """)
EXPORTS = {
    "users.csv": "account,user_id,name,email,active\nA1,u1,Ann,a@x.example,true\nA1,u2,Bob,,yes\nA1,u3,Cy,,0\n",
    "assets.csv": "account,asset_id,hostname,type,backup_tb\nA1,d1,SRV-1,workstation,1.25\nA1,d2,PC-2,laptop,\n"
                  "A1,d4,PC-4,desktop,0.5\n",
    "tickets.csv": "account,ticket,subject,date,hours,billable\nA1,T1,Printer,2024-10-03,1.5,true\n"
                   "A1,T2,\"Patching, servers\",2024-10-31T23:30:00-04:00,2.25,\nA1,T3,VPN,2024-10-15 09:00,0.75,no\n",
    "usage.csv": "account,service,quantity,description\nA1,CONSULT,3.5,Migration\n",
}
BANK = ("Date,Amount,Details,Bank Ref\n2024-11-20,\"1,234.56\",Payment A1-202410 ACME,REF-1\n"
        "2024-11-21,100.00,Acme Corporation,REF-2\n2024-11-22,-50.00,fee,REF-3\n")
PIECES = list("0123456789.,-+ :\"'{}[]#&*!|>%@`$e\\\n\t;") + [
    "\u00a0", "\u202f", "é", "株", "\x00", "\x07", "\ufeff", "\r\n", "1e30", "1E-9", "2024-02-30", "9999-12",
    "0000-01", "!!float ", "!!int ", "!!timestamp ", "!!binary ", "!!set ", "!!bool ", "!!seq ", "!!map ", "!!null ",
    "!!str ", "!!omap ", "!!pairs ", "!foo ", "&a ", "*a", "<<: ", "? ", "- ",
    "999999999999", "0.0000000001", "1.000,50", "1 234,56", "NaN", "inf", "-0", '"', '""', ",,,", "\n\n",
]
EDITS = st.lists(st.tuples(st.integers(0, 100_000),
                           st.sampled_from(["insert", "delete", "replace", "repeat", "cut", "value", "value"]),
                           st.sampled_from(PIECES)), min_size=1, max_size=5)
VALUE_STARTS = re.compile(r"(?<=: )|(?<=- )|(?<=, )|(?<=\[)|(?<=\{)|(?<=,)")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def mutate(text: str, edits) -> str:
    for position, kind, piece in edits:
        at = position % (len(text) + 1)
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + len(piece):]
        elif kind == "replace":
            text = text[:at] + piece + text[at + len(piece):]
        elif kind == "value":  # at the start of a value, where YAML reads tags and CSV reads a cell
            starts = [m.start() for m in VALUE_STARTS.finditer(text)] or [0]
            at = starts[position % len(starts)]
            text = text[:at] + piece + text[at:]
        elif kind == "repeat":
            lines = text.splitlines(keepends=True) or [""]
            line = lines[at % len(lines)]
            lines.insert(at % len(lines), line)
            text = "".join(lines)
        else:
            text = text[:at]
    return text


@pytest.fixture(scope="module")
def world():
    """A billing repo read once: settings, plans, services; the fuzzed file is written into it per example."""
    folder = Path(tempfile.mkdtemp(prefix="otb-fuzz-"))
    root = folder / "repo"
    (root / "plans").mkdir(parents=True)
    (root / "clients").mkdir()
    (root / "settings.yaml").write_text(SETTINGS)
    (root / "plans" / "gold.yaml").write_text(GOLD)
    (root / "services.yaml").write_text(SERVICES)
    (root / "clients" / "A1.yaml").write_text(CLIENT)
    config = read_config(root)
    yield root, config
    shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(edits=EDITS)
def test_mutated_client_yaml_is_read_or_reported(world, edits):
    root, config = world
    path = root / "clients" / "fuzz.yaml"
    path.write_text(mutate(CLIENT, edits), encoding="utf-8", errors="surrogatepass")
    problems: list = []
    data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
    if data is None:
        assert problems and all(p.source is not None for p in problems)
        return
    client = read_client(data, config.settings, config.plans, problems)
    if client is None or problems:
        assert problems
        return
    month_config = Config(config.settings, config.plans, (client,), config.services)
    result = bill_month(month_config, read_exports(root, MONTH, "America/Toronto")[0], MONTH)
    for invoice in result.invoices:
        assert invoice.total == sum((line.amount for line in invoice.lines), Decimal(0)) + invoice.tax


@FUZZ
@given(which=st.sampled_from(sorted(EXPORTS)), edits=EDITS, style=st.sampled_from(sorted(NUMBER_FORMATS)))
def test_mutated_exports_are_read_or_reported(world, which, edits, style):
    root, config = world
    folder = root / "exports" / str(MONTH)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in EXPORTS.items():
        (folder / name).write_text(mutate(text, edits) if name == which else text, encoding="utf-8",
                                   errors="surrogatepass")
    exports, problems = read_exports(root, MONTH, "America/Toronto", style)
    assert all(p.source is not None and p.source.line >= 0 for p in problems)
    result = bill_month(config, exports, MONTH)
    assert all(p.source is not None for p in result.errors)


@FUZZ
@given(edits=EDITS, style=st.sampled_from(sorted(NUMBER_FORMATS)))
def test_mutated_bank_statements_are_read_or_reported(world, edits, style):
    root, _ = world
    path = root / "bank.csv"
    path.write_text(mutate(BANK, edits), encoding="utf-8", errors="surrogatepass")
    mapping = {"date": "Date", "amount": "Amount", "description": "Details", "reference": "Bank Ref"}
    try:
        rows = read_bank_csv(path, mapping, "bank.csv", style)
    except InputErrors as exc:
        assert exc.problems and all(p.source is not None for p in exc.problems)
        return
    for row in rows:
        assert row.amount == row.amount.quantize(Decimal("0.01")) and abs(row.amount) <= Decimal("999999999.99")
        assert isinstance(row.date, dt.date) and "\n" not in row.text


@settings(max_examples=2000, deadline=None, database=None)
@given(text=st.text(min_size=0, max_size=30), style=st.sampled_from(sorted(NUMBER_FORMATS)))
def test_any_text_is_a_number_or_a_value_error(text, style):
    try:
        value = parse_number(text, style)
    except ValueError:
        return
    assert value.is_finite()


def test_the_readers_survive_a_settings_file_and_plans_that_are_noise(world, tmp_path):
    """Not fuzzed by hypothesis (one file read per repo), but every mutation of settings and plans is tried."""
    root = tmp_path / "repo"
    shutil.copytree(world[0], root)
    for number, piece in enumerate(PIECES):
        for name, text in (("settings.yaml", SETTINGS), ("plans/gold.yaml", GOLD)):
            (root / name).write_text(mutate(text, [(number * 7, "insert", piece), (number * 13, "replace", piece)]))
            problems: list = []
            read_settings(root, problems)
            read_plans(root, problems)
            read_services(root, problems)
            (root / name).write_text(text)
