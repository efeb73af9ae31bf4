"""Import profiles: how one vendor's export (an RMM's device list, a PSA's time entries) maps to one of otb's four
export kinds. A profile is YAML, looked up by name in settings.yaml (`imports: {NAME: {...}}`), then in the
billing repo's `import_profiles/NAME.yaml`, then among the profiles shipped with otb (otb_billing/import_profiles).

```yaml
title: Datto RMM devices
kind: assets                       # users, assets, tickets or usage
files: ["*Devices*.csv"]           # the names the vendor gives its export (a mismatch is only a warning)
delimiter: ","                     # default ","
encoding: utf-8                    # default utf-8 (a BOM is fine)
number_format: "1,234.56"          # how the vendor writes numbers
client: Site Name                  # the column naming the client (its name, an alias under `match:`, or account)
account: ""                        # or: a column holding your account numbers
columns: {asset_id: Device UID, hostname: Hostname, type: Device Type}    # otb's column: the vendor's header
values: {type: {Desktop: workstation, Laptop: workstation, Printer: skip}} # vendor value -> otb's, or skip
defaults: {backup_tb: "0"}         # otb columns the vendor does not have
skip: {Status: [Deleted]}          # rows to leave out, by a vendor column's value
date_format: "%m/%d/%Y %I:%M %p"   # time entries: how dates are written (strptime); default ISO
timezone: America/New_York         # the zone the vendor's times are in; default settings.timezone
```
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..core.errors import Problem, Source, did_you_mean
from ..core.model import DEVICE_TYPES
from ..core.money import DEFAULT_FORMAT, NUMBER_FORMATS
from .exports import EXPORT_FILES
from .fields import BOOL_WORDS, Fields
from .sources import FAILED, _expect_mapping, read_yaml_file
from .yamlsrc import YMap

KINDS = {"users": "users.csv", "assets": "assets.csv", "tickets": "tickets.csv", "usage": "usage.csv"}
PROFILE_KEYS = ("title", "kind", "files", "delimiter", "encoding", "number_format", "client", "account", "columns",
                "values", "defaults", "skip", "date_format", "timezone", "notes")
SHIPPED = Path(str(resources.files("otb_billing") / "import_profiles"))
SKIP = "skip"


@dataclass(frozen=True)
class ImportProfile:
    name: str
    title: str
    kind: str
    source: Source
    columns: Mapping[str, str]  # otb column -> vendor header
    files: tuple[str, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    number_format: str = DEFAULT_FORMAT
    client_column: str = ""
    account_column: str = ""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # otb column -> {casefolded value: otb's}
    defaults: Mapping[str, str] = field(default_factory=dict)
    skip: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # vendor column -> casefolded values
    date_format: str = ""
    timezone: str = ""

    @property
    def our_columns(self) -> tuple[str, ...]:
        required, optional = EXPORT_FILES[KINDS[self.kind]]
        return required + optional


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def find_profile(root: Path, name: str, imports: Mapping | None, problems: list[Problem]) -> ImportProfile | None:
    """The profile called `name`, read and checked; None with the problems recorded."""
    if imports and name in imports:
        data = imports[name]
        if not isinstance(data, YMap):
            problems.append(Problem(Source("settings.yaml"), f"imports: '{name}' should be a mapping"))
            return None
        return read_profile(name, data, problems)
    for folder in (root / "import_profiles", SHIPPED):
        path = folder / f"{name}.yaml"
        if path.is_file():
            data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
            return None if data is None or data is FAILED else read_profile(name, data, problems)
    known = set(shipped_profiles()) | {p.stem for p in (root / "import_profiles").glob("*.yaml")} | set(imports or {})
    problems.append(Problem(None, f"no import profile '{name}'", did_you_mean(name, known)))
    return None


def read_profile(name: str, data: YMap, problems: list[Problem]) -> ImportProfile | None:
    before = len(problems)
    f = Fields(data, problems, f"import profile '{name}'")
    f.check_keys(PROFILE_KEYS, required=("kind", "columns"))
    kind = f.choice("kind", tuple(KINDS))
    if kind is None:
        return None
    required, optional = EXPORT_FILES[KINDS[kind]]
    ours = [c for c in required + optional if c != "account"]
    columns: dict[str, str] = {}
    if (cmap := f.mapping("columns")) is not None:
        c = Fields(cmap, problems, f"import profile '{name}' columns")
        c.check_keys(ours)
        columns = {str(k): c.text(k) for k in cmap if k in ours}
    defaults: dict[str, str] = {}
    if (dmap := f.mapping("defaults")) is not None:
        d = Fields(dmap, problems, f"import profile '{name}' defaults")
        d.check_keys(ours)
        defaults = {str(k): d.text(k) for k in dmap if k in ours}
    for column in required:
        if column != "account" and column not in columns and column not in defaults:
            f.error("columns", f"import profile '{name}' does not say which column is '{column}'",
                    f"add {column}: <the vendor's column name> under columns")
    client, account = f.text("client"), f.text("account")
    if client and account:
        f.error("account", "give either client (a column of client names) or account (a column of account numbers)")
    values: dict[str, dict[str, str]] = {}
    if (vmap := f.mapping("values")) is not None:
        for column, mapping in vmap.items():
            if column not in columns:
                problems.append(Problem(Source(vmap.file, vmap.line_of(column)),
                                        f"values: '{column}' is not one of the profile's columns",
                                        did_you_mean(str(column), columns)))
                continue
            if not isinstance(mapping, YMap):
                problems.append(Problem(Source(vmap.file, vmap.line_of(column)), f"values: '{column}' should map the "
                                        "vendor's values to otb's, e.g. {Desktop: workstation}"))
                continue
            allowed = _targets(str(column))
            out = {}
            for vendor, ours_ in mapping.items():
                target = str(ours_).strip().lower() if ours_ is not None else ""
                if isinstance(ours_, bool):
                    target = "true" if ours_ else "false"
                if allowed and target not in allowed:
                    problems.append(Problem(Source(mapping.file, mapping.line_of(vendor)),
                                            f"values: '{vendor}' maps to '{ours_}', which is not one of: "
                                            f"{', '.join(allowed)}", did_you_mean(target, allowed)))
                    continue
                out[str(vendor).strip().casefold()] = target
            values[str(column)] = out
    skip: dict[str, tuple[str, ...]] = {}
    if (smap := f.mapping("skip")) is not None:
        for column in smap:
            skip[str(column)] = tuple(v.casefold() for v in Fields(smap, problems, "skip").texts(column))
    date_format = f.text("date_format")
    if date_format:
        sample = dt.datetime(2024, 10, 31, 14, 5)
        try:
            ok = dt.datetime.strptime(sample.strftime(date_format), date_format).date() == sample.date()
        except ValueError:
            ok = False
        if not ok:
            f.error("date_format", f"date_format '{date_format}' does not read back a whole date",
                    'use strptime codes, e.g. "%m/%d/%Y %I:%M %p"')
    timezone = f.text("timezone")
    if timezone:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            f.error("timezone", f"unknown timezone '{timezone}'", "use a name like America/New_York")
    number_format = f.text("number_format", DEFAULT_FORMAT)
    if number_format not in NUMBER_FORMATS:
        f.error("number_format", f"number_format '{number_format}' is not one of: {', '.join(NUMBER_FORMATS)}")
    delimiter = f.text("delimiter", ",") or ","
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if len(delimiter) != 1:
        f.error("delimiter", f"delimiter '{delimiter}' should be one character", 'e.g. ";" or tab')
    encoding = f.text("encoding", "utf-8-sig")
    try:
        "".encode(encoding)
    except LookupError:
        f.error("encoding", f"unknown encoding '{encoding}'", "e.g. utf-8, cp1252, latin-1")
    if len(problems) > before:
        return None
    encoding = "utf-8-sig" if encoding.replace("-", "").lower() == "utf8" else encoding
    return ImportProfile(name, f.text("title", name), kind, Source(data.file), columns, f.texts("files"), delimiter,
                         encoding, number_format, client, account, values, defaults, skip, date_format, timezone)


def _targets(column: str) -> tuple[str, ...]:
    if column == "type":
        return DEVICE_TYPES + (SKIP,)
    if column in ("active", "billable"):
        return tuple(BOOL_WORDS) + (SKIP,)
    return ()
