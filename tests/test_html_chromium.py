"""The HTML invoice in a real browser: headless Chromium prints it, and the printed page has the invoice's numbers."""

from __future__ import annotations

import shutil
import subprocess

import pdfplumber
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it"
)
def test_headless_chromium_prints_the_html_invoice(repo, tmp_path):
    repo.client("A1", name="Alpha Co")
    repo.users("2024-10", "A1", 3)
    assert repo.run("bill", "2024-10", "--no-pdf").exit_code == 0
    html = tmp_path / "invoice.html"
    result = repo.run("show", "A1-202410", "--html", "--out", str(html), "--as-of", "2024-11-01")
    assert result.exit_code == 0, result.output
    printed = tmp_path / "printed.pdf"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={printed}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with pdfplumber.open(printed) as pdf:
        # without the big DRAFT watermark letters, which would interleave with the text
        text = "\n".join(page.filter(lambda o: o.get("size", 0) < 50).extract_text() or "" for page in pdf.pages)
    # 3 users x 15.00 = 45.00; HST 13% = 5.85; total 50.85
    for expected in (
        "INVOICE",
        "A1-202410",
        "Alpha Co",
        "Users 3 $15.00 $45.00",
        "Subtotal $45.00",
        "HST 13% (Reg. 123456789RT0001) $5.85",
        "Total $50.85",
        "Amount due $50.85",
    ):
        assert expected in text, expected
