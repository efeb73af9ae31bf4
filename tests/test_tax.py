"""Canadian sales tax, hand-computed: each province, registration cases, zero-rated and exempt, NS rate change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from otb_billing.core.errors import Source
from otb_billing.core.model import Business, Client, Settings, TaxRule
from otb_billing.core.tax import DEFAULT_RULES, compute_taxes

BASE = Decimal("1000.00")
OCT = dt.date(2024, 10, 31)


def settings(**registrations) -> Settings:
    regs = {"GST/HST": "123456789RT0001", **{k.replace("_", "-"): v for k, v in registrations.items()}}
    return Settings(Business("T"), registrations=regs)


def client(province="ON", country="CA", exempt="") -> Client:
    return Client("A1", "C", "P", "T", Source("c.yaml"), province=province, country=country, tax_exempt=exempt)


def taxes(c, s, day=OCT, base=BASE, rules=DEFAULT_RULES):
    lines, notes = compute_taxes(c, s, day, base, rules)
    return [(t.name, str(t.rate), str(t.amount)) for t in lines], notes


@pytest.mark.parametrize(
    "province, expected",
    [
        ("ON", [("HST", "13", "130.00")]),
        ("NB", [("HST", "15", "150.00")]),
        ("NL", [("HST", "15", "150.00")]),
        ("PE", [("HST", "15", "150.00")]),
        ("AB", [("GST", "5", "50.00")]),
        ("BC", [("GST", "5", "50.00")]),
        ("MB", [("GST", "5", "50.00")]),
        ("SK", [("GST", "5", "50.00")]),
        ("QC", [("GST", "5", "50.00")]),
        ("NT", [("GST", "5", "50.00")]),
        ("NU", [("GST", "5", "50.00")]),
        ("YT", [("GST", "5", "50.00")]),
    ],
)
def test_gst_hst_by_province(province, expected):
    assert taxes(client(province), settings()) == (expected, ())


def test_nova_scotia_before_and_after_2025_04_01():
    assert taxes(client("NS"), settings(), dt.date(2025, 3, 31)) == ([("HST", "15", "150.00")], ())
    assert taxes(client("NS"), settings(), dt.date(2025, 4, 30)) == ([("HST", "14", "140.00")], ())


def test_provincial_taxes_only_when_registered():
    registered = settings(QST="Q1", PST_BC="B1", PST_SK="S1", RST_MB="M1")
    # QST 9.975% of 1000.00 = 99.75, on the pre-tax amount like GST
    assert taxes(client("QC"), registered)[0] == [("GST", "5", "50.00"), ("QST", "9.975", "99.75")]
    assert taxes(client("BC"), registered)[0] == [("GST", "5", "50.00"), ("PST", "7", "70.00")]
    assert taxes(client("SK"), registered)[0] == [("GST", "5", "50.00"), ("PST", "6", "60.00")]
    assert taxes(client("MB"), registered)[0] == [("GST", "5", "50.00"), ("RST", "7", "70.00")]
    assert taxes(client("QC"), settings())[0] == [("GST", "5", "50.00")]


def test_each_tax_is_rounded_half_up_once_per_invoice():
    # 0.05 x 13% = 0.0065 -> 0.01; QST 9.975% of 33.33 = 3.3246675 -> 3.32
    assert taxes(client("ON"), settings(), base=Decimal("0.05"))[0] == [("HST", "13", "0.01")]
    assert taxes(client("QC"), settings(QST="Q"), base=Decimal("33.33"))[0] == [
        ("GST", "5", "1.67"), ("QST", "9.975", "3.32")]


def test_no_registration_means_no_tax():
    assert taxes(client("ON"), Settings(Business("T"))) == ([], ())


def test_client_outside_canada_is_zero_rated_with_a_note():
    lines, notes = taxes(client("", "US"), settings())
    assert lines == [] and notes == ("Zero-rated: services supplied to a client outside CA.",)


def test_tax_exempt_client_prints_the_reason():
    lines, notes = taxes(client("ON", exempt="Status Indian band, certificate 123"), settings())
    assert lines == [] and notes == ("Tax exempt: Status Indian band, certificate 123",)


def test_a_settings_rate_replaces_the_built_in_one_for_its_dates():
    future = TaxRule("HST", "ON", Decimal("12"), "GST/HST", start=dt.date(2026, 1, 1))
    rules = (future,) + DEFAULT_RULES
    assert taxes(client("ON"), settings(), dt.date(2025, 12, 31), rules=rules)[0] == [("HST", "13", "130.00")]
    assert taxes(client("ON"), settings(), dt.date(2026, 1, 31), rules=rules)[0] == [("HST", "12", "120.00")]


def test_settings_tax_rates_through_the_cli(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text().replace(
        "  local_country: CA\n",
        "  local_country: CA\n  rates:\n    - {name: HST, province: ON, rate: 12, from: 2024-10-01}\n"))
    repo.client("A1")
    repo.users("2024-10", "A1", 1)
    assert repo.invoice()["taxes"] == [{"name": "HST", "rate": "12", "base": "15.00", "amount": "1.80"}]


def test_quebec_client_through_the_cli(repo):
    repo.write("settings.yaml", (repo.root / "settings.yaml").read_text().replace(
        '{GST/HST: "123456789RT0001"}', '{GST/HST: "123456789RT0001", QST: "1234567890TQ0001"}'))
    repo.client("A1", province="QC")
    repo.users("2024-10", "A1", 3)
    inv = repo.invoice()
    # 45.00: GST 2.25, QST 4.48875 -> 4.49
    assert [(t["name"], t["amount"]) for t in inv["taxes"]] == [("GST", "2.25"), ("QST", "4.49")]
    assert inv["total"] == "51.74"
