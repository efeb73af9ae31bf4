"""Property tests: for random valid inputs the money adds up, the ledger loads, and billing is deterministic."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

from beancount import loader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otb_billing.books import writer
from otb_billing.core.billing import bill_month
from otb_billing.core.errors import Source
from otb_billing.core.model import (
    DEVICE_TYPES,
    MONEY_RATE_KEYS,
    AssetOverride,
    AssetRow,
    Business,
    Client,
    Config,
    Exports,
    LineItem,
    Plan,
    Prepaid,
    RateChange,
    Service,
    Settings,
    TimeRow,
    UserOverride,
    UserRow,
)
from otb_billing.core.money import cents
from otb_billing.core.month import Month
from otb_billing.core.tax import PROVINCES
from otb_billing.render.qbcsv import invoice_csv

SRC = Source("x", 1)
MONTH = Month(2024, 10)
ZONE = zoneinfo.ZoneInfo("America/Toronto")

money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
fine_rate = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)
tb = st.decimals(min_value=0, max_value=20, places=4, allow_nan=False, allow_infinity=False)
hours = st.decimals(min_value=0, max_value=40, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def plans(draw):
    values = {key: draw(money) for key in MONEY_RATE_KEYS}
    values["backup_included_tb"] = draw(tb)
    return Plan(
        "P", draw(st.sampled_from(["hourly", "flat"])), {"T": (RateChange(None, values, draw(st.booleans())),)}, SRC
    )


@st.composite
def clients(draw, account: str):
    n_users = draw(st.integers(0, 6))
    n_assets = draw(st.integers(0, 6))
    users = [UserRow(account, f"{account}u{i}", f"User {i}", "", draw(st.booleans()), *SRC) for i in range(n_users)]
    assets = [
        AssetRow(account, f"{account}a{i}", f"H{i}", draw(st.sampled_from(DEVICE_TYPES)), draw(tb), *SRC)
        for i in range(n_assets)
    ]
    tickets = [
        TimeRow(
            account,
            f"T{i}",
            "s",
            dt.datetime(2024, 10, draw(st.integers(1, 31)), tzinfo=ZONE),
            draw(hours),
            draw(st.booleans()),
            *SRC,
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    user_overrides = {
        u.user_id: UserOverride(kind, draw(money) if kind == "custom" else None, SRC)
        for u in users
        if (kind := draw(st.sampled_from(["paid", "free", "custom", None]))) is not None
    }
    asset_overrides = {
        a.asset_id: AssetOverride(kind, draw(money) if kind == "custom" else None, SRC)
        for a in assets
        if (kind := draw(st.sampled_from(list(DEVICE_TYPES) + ["custom", "no_charge", None]))) is not None
    }
    items = tuple(
        LineItem("monthly", f"Item {i}", "", draw(money), draw(tb), SRC, taxable=draw(st.booleans()))
        for i in range(draw(st.integers(0, 3)))
    )
    items += tuple(
        LineItem("service", "", "usage", None, draw(tb), SRC, service="S") for _ in range(draw(st.integers(0, 2)))
    )
    client = Client(
        account=account,
        name=f"Client {account}",
        plan="P",
        term="T",
        source=SRC,
        province=draw(st.sampled_from(PROVINCES)),
        country=draw(st.sampled_from(["CA", "CA", "US"])),
        tax_exempt=draw(st.sampled_from(["", "", "", "certificate 1"])),
        prepaid=Prepaid(draw(hours), draw(hours)),
        user_overrides=user_overrides,
        asset_overrides=asset_overrides,
        line_items=items,
    )
    return client, users, assets, tickets


@st.composite
def repos(draw):
    plan = draw(plans())
    parts = [draw(clients(f"C{i}")) for i in range(draw(st.integers(1, 4)))]
    registrations = draw(
        st.sampled_from(
            [{}, {"GST/HST": "R"}, {"GST/HST": "R", "QST": "Q", "PST-BC": "B", "PST-SK": "S", "RST-MB": "M"}]
        )
    )
    config = Config(
        Settings(Business("Biz"), registrations=registrations),
        {"P": plan},
        tuple(p[0] for p in parts),
        {"S": Service("S", "Svc", draw(fine_rate), "unit", draw(st.booleans()), SRC)},
    )
    exports = Exports(
        MONTH,
        tuple(u for p in parts for u in p[1]),
        tuple(a for p in parts for a in p[2]),
        tuple(t for p in parts for t in p[3]),
    )
    return config, exports


def ledger_errors(invoices) -> list:
    opens = writer.with_accounts("", writer.accounts_for(invoices, {}))
    text = (
        'option "operating_currency" "CAD"\n'
        + opens
        + writer.render_month_file(MONTH, [(i.number, writer.render_invoice(i)) for i in invoices])
    )
    return loader.load_string(text)[1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repos())
def test_money_adds_up_and_the_ledger_loads(repo):
    config, exports = repo
    result = bill_month(config, exports, MONTH)
    assert result.errors == ()
    for invoice in result.invoices:
        for line in invoice.lines:
            assert line.amount == cents(line.quantity * line.rate)
        assert invoice.subtotal == sum(line.amount for line in invoice.lines)
        assert sum(invoice.group_totals().values()) == invoice.subtotal
        assert invoice.total == invoice.subtotal + sum(t.amount for t in invoice.taxes)
        for tax in invoice.taxes:
            assert tax.amount == cents(tax.base * tax.rate / 100)
        rows = list(csv.DictReader(io.StringIO(invoice_csv(invoice))))
        assert sum(Decimal(r["Amount"]) for r in rows) == invoice.subtotal
    assert ledger_errors(result.invoices) == []


@settings(max_examples=30, deadline=None)
@given(repos())
def test_billing_is_deterministic(repo):
    config, exports = repo
    first = bill_month(config, exports, MONTH)
    second = bill_month(config, exports, MONTH)
    assert first == second
    render = lambda r: [writer.render_invoice(i) + invoice_csv(i) for i in r.invoices]  # noqa: E731
    assert render(first) == render(second)


@given(st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_money_written_directly_matches_babel(amount):
    """CAD and USD are written without Babel, from whole cents: the text must be what Babel's en_CA gives for
    the amount rounded half-up to cents (and never -$0.00)."""
    from babel.numbers import format_currency

    from otb_billing.core.money import cents
    from otb_billing.render.moneyfmt import money

    rounded = cents(amount) or Decimal("0.00")
    for currency in ("CAD", "USD"):
        assert money(amount, currency) == format_currency(rounded, currency, locale="en_CA")


@settings(max_examples=30, deadline=None)
@given(repos())
def test_billing_that_drops_each_clients_rows_once_billed_bills_the_same(repo):
    """`otb bill` lets bill_month consume the split exports (memory); the invoices must not notice."""
    from otb_billing.core.billing import split_exports

    config, exports = repo
    inventories = split_exports(exports)
    consumed = bill_month(config, None, MONTH, inventories=inventories, consume=True)
    assert consumed == bill_month(config, exports, MONTH)
    billed = {c.account for c in config.clients if c.in_contract(MONTH)}
    assert not billed & set(inventories)  # each billed client's rows were let go


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(st.dictionaries(_TEXT, st.one_of(st.just("text"), st.just("int"), st.just("mixed")), max_size=5),
       st.integers(0, 6), st.integers(0, 4), st.randoms(use_true_random=False))
def test_records_written_a_column_at_a_time_are_what_json_dumps_writes(kinds, count, indent, rng):
    """`otb status --json` writes its 120,000 records without json's pure-Python indenting encoder; the bytes
    must be json.dumps(records, indent=2)'s, nested `indent` deeper (any text, quotes and braces included)."""
    import json

    from otb_billing.render.text import records_json

    def value(kind):
        if kind == "text" or (kind == "mixed" and rng.random() < 0.5):
            return "".join(rng.choice('ab"{}\\\n\té€😀 ') for _ in range(rng.randint(0, 6)))
        return rng.randint(-10**12, 10**12) if kind == "int" else rng.choice([None, True, 1.5, 7])

    columns = {key: [value(kind) for _ in range(count)] for key, kind in kinds.items()}
    records = [{key: columns[key][i] for key in columns} for i in range(count)]
    expected = json.dumps(records, indent=2).replace("\n", "\n" + " " * indent)
    assert records_json(columns, count, indent) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(["users", "assets"])), max_size=30))
def test_export_rows_are_grouped_by_account_in_each_files_order_whatever_order_they_come_in(rows):
    """core/billing.split_exports takes each run of one account's rows at once: the same grouping as one row at a
    time, for rows listed together or interleaved."""
    from otb_billing.core.billing import split_exports

    users = tuple(UserRow(account, f"u{n}", "", "", True, "users.csv", n) for n, (account, kind) in enumerate(rows)
                  if kind == "users")
    assets = tuple(AssetRow(account, f"a{n}", "", "server", Decimal(0), "assets.csv", n)
                   for n, (account, kind) in enumerate(rows) if kind == "assets")
    split = split_exports(Exports(Month(2024, 10), users, assets))
    assert list(split) == list(dict.fromkeys(row.account for row in users + assets))  # first seen, first
    for account, inventory in split.items():
        assert inventory.users == tuple(row for row in users if row.account == account)
        assert inventory.assets == tuple(row for row in assets if row.account == account)
        assert inventory.tickets == inventory.usage == ()
