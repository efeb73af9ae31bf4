"""`otb init DIR`: scaffold a new, empty billing repo that `otb bill` accepts as it is."""

from __future__ import annotations

from pathlib import Path

from ..books import writer
from ..core.model import Business, Settings
from ..fsutil import write_atomic
from ..render.templates import DEFAULTS

SETTINGS = """\
# Who you are and how invoices are numbered. See README.md for every key.
business:
  name: {name}
  email: billing@example.com
  phone: ""
  website: ""
  address: ["1 Main St", "Toronto ON  M5V 0A1"]
  province: ON
  country: CA
currency: CAD
timezone: America/Toronto
invoice:
  terms_days: 30
  number: "{{account}}-{{year}}{{month:02d}}"
  footer: "Thank you for your business."
tax:
  registrations: {{}}        # e.g. {{GST/HST: "123456789RT0001"}}; none means no tax is charged
  local_country: CA
asset_types: {{laptop: workstation, desktop: workstation}}
"""
SERVICES = """\
# The catalog of billable services, used by line items and usage.csv.
- {code: CONSULT, name: Consulting, rate: 125.00, unit: hour, taxable: true}
"""
PLAN = """\
name: Standard MSP Plan
support_level: hourly
terms:
  "Month to Month":
    per_user: 15.00
    per_workstation: 75.00
    per_server: 125.00
    per_hour: 150.00
"""
CLIENT = """\
account: "100001"
name: Example Client
billing_email: ap@example.com
address: ["1 Client Rd", "Toronto ON"]
province: ON
plan: Standard MSP Plan
term: "Month to Month"
"""
GITIGNORE = "build/\n.venv/\n.otb.lock\n.otb/\n__pycache__/\n"


def run_init(directory: Path, name: str) -> list[Path]:
    if (directory / "settings.yaml").exists():
        raise FileExistsError(f"{directory} already holds a billing repo (settings.yaml exists); nothing was changed")
    settings = Settings(Business(name))
    files = {
        "settings.yaml": SETTINGS.format(name=name),
        "services.yaml": SERVICES,
        "plans/standard-msp.yaml": PLAN,
        "clients/100001-example.yaml": CLIENT,
        "ledger/main.beancount": writer.main_skeleton(settings),
        "ledger/accounts.beancount": writer.accounts_skeleton(settings),
        "exports/README.txt": "Drop each month's exports in a folder named YYYY-MM: users.csv, assets.csv, "
        "tickets.csv, usage.csv.\n",
        ".gitignore": GITIGNORE,
    }
    for template in sorted(p for p in DEFAULTS.rglob("*") if p.is_file() and p.suffix in (".j2", ".txt")):
        # the user's own copies to edit
        files[f"templates/{template.relative_to(DEFAULTS).as_posix()}"] = template.read_text(encoding="utf-8")
    created = []
    for relative, text in files.items():
        path = directory / relative
        if not path.exists():
            write_atomic(path, text)
            created.append(path)
    return created
