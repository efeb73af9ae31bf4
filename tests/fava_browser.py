"""Real Fava (its own server, in a process of its own) looked at by real headless Chromium: the pages as a billing
admin sees them, after Fava's scripts drew the tables and charts.

`python tests/fava_browser.py` rebuilds docs/fava-invoices.png and docs/fava-billing.png from the example repo.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import example_repo  # noqa: E402,F401  (also used by test_fava_browser.py)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SLUG = "outsidethebox-infrastructure-services"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def fava_server(main: Path):
    """`fava` serving `main` on a free port; yields its base URL."""
    port = free_port()
    fava = Path(sys.executable).parent / "fava"
    process = subprocess.Popen([str(fava), "--host", "127.0.0.1", "--port", str(port), str(main)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/{SLUG}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/", timeout=1)
                break
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def chromium(*args: str, profile: Path) -> str:
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
                            capture_output=True, text=True, timeout=180)
    return result.stdout


def dom(url: str, profile: Path) -> str:
    """The page after its scripts ran (Fava's Svelte components draw the tables and charts)."""
    return chromium("--dump-dom", url, profile=profile)


def screenshot(url: str, path: Path, profile: Path, size: str = "1400,1500") -> None:
    chromium(f"--window-size={size}", f"--screenshot={path}", url, profile=profile)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        root = example_repo(Path(folder) / "example")
        subprocess.run([str(Path(sys.executable).parent / "otb"), "bill", "2024-10", "--no-pdf", "--root", str(root)],
                       check=True, capture_output=True)
        with fava_server(root / "ledger" / "main.beancount") as base:
            profile = Path(folder) / "profile"
            screenshot(f"{base}/extension/Invoices/?as_of=2024-11-15", REPO / "docs" / "fava-invoices.png", profile)
            screenshot(f"{base}/extension/Billing/?as_of=2024-11-15", REPO / "docs" / "fava-billing.png", profile,
                       "1400,2000")
    print("wrote docs/fava-invoices.png and docs/fava-billing.png")
