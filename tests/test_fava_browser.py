"""The Fava pages in a real browser: real Fava serves the example ledger, headless Chromium runs Fava's scripts.
Tables and charts are drawn, filters change the numbers, and a screenshot is taken."""

from __future__ import annotations

import re

import pytest
from conftest import run
from fava_browser import CHROMIUM, dom, example_repo, fava_server, screenshot

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); "
                                                          ".ci/run installs it")


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = example_repo(tmp_path_factory.mktemp("fava") / "example")
    assert run(root, "bill", "2024-10", "--no-pdf").exit_code == 0
    with fava_server(root / "ledger" / "main.beancount") as base:
        yield base, tmp_path_factory.mktemp("chromium")


def test_the_invoices_page_draws_its_tables_and_follows_the_filters(served, tmp_path):
    base, profile = served
    page = dom(f"{base}/extension/Invoices/?as_of=2024-11-15", profile)
    assert "Invoices on 2024-11-15" in page and "Error" not in page
    shown = cells(page)
    assert "620547-202409" in shown and "overdue" in shown and "$7,472.40" in shown
    assert shown.count("draft") == 5
    acme = cells(dom(f"{base}/extension/Invoices/?as_of=2024-11-15&account=Assets:Receivable:620547", profile))
    assert "$3,365.99" in acme and "$7,472.40" not in acme and "555123-202409" not in acme
    screenshot(f"{base}/extension/Invoices/?as_of=2024-11-15", tmp_path / "invoices.png", profile)
    assert (tmp_path / "invoices.png").stat().st_size > 20_000


def test_the_billing_page_draws_its_charts_with_data(served, tmp_path):
    base, profile = served
    page = dom(f"{base}/extension/Billing/?as_of=2024-11-15", profile)
    assert "Billing on 2024-11-15" in page and "Error" not in page
    charts = re.findall(r'<svg viewBox="0 0 \d+ \d+">(.*?)</svg>', page, re.S)
    assert len(charts) >= 2
    assert all(len(re.findall(r"<rect", chart)) >= 3 for chart in charts)  # bars drawn for the months
    assert "Acme Corporation" in cells(page) and "+67.9%" in cells(page)
    september = dom(f"{base}/extension/Billing/?time=2024-09", profile)
    assert len(re.findall(r"<rect", september)) < len(re.findall(r"<rect", page))  # the filter shows fewer months
    screenshot(f"{base}/extension/Billing/?as_of=2024-11-15", tmp_path / "billing.png", profile, "1400,2000")
    assert (tmp_path / "billing.png").stat().st_size > 20_000
