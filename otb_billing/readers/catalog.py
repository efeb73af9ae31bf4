"""services.yaml and plans/*.yaml: the prices a billing repo sells at."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ..core.errors import Problem, Source
from ..core.model import (
    FLAG_RATE_KEYS,
    MONEY_RATE_KEYS,
    QUANTITY_RATE_KEYS,
    RATE_KEYS,
    SUPPORT_LEVELS,
    Plan,
    RateChange,
    Service,
)
from .fields import Fields
from .sources import FAILED, _expect_mapping, read_yaml_file, relative_name
from .yamlsrc import YList, YMap

# --- services ----------------------------------------------------------------------------------------------------

SERVICE_KEYS = ("code", "name", "rate", "unit", "taxable", "description")


def read_services(root: Path, problems: list[Problem]) -> dict[str, Service]:
    path = root / "services.yaml"
    if not path.exists():
        return {}
    data = read_yaml_file(path, root, problems)
    if data is FAILED or data is None:
        return {}
    name = relative_name(path, root)
    if not isinstance(data, YList):
        problems.append(Problem(Source(name, 1), "services.yaml should be a list of services ('- {code: ..., ...}')"))
        return {}
    services: dict[str, Service] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, YMap):
            problems.append(Problem(Source(name, data.line_of(index)), "each service should be a mapping"))
            continue
        s = Fields(entry, problems, "service")
        s.check_keys(SERVICE_KEYS, required=("code", "name", "rate"))
        code = s.text("code")
        rate = s.decimal("rate", what="a rate")
        if not code or rate is None:
            continue
        if code in services:
            s.error("code", f"duplicate service code '{code}' (also on line {services[code].source.line})")
            continue
        services[code] = Service(code, s.text("name", code), rate, s.text("unit", "unit"),
                                 s.boolean("taxable", True), s.src())
    return services


# --- plans -------------------------------------------------------------------------------------------------------

PLAN_KEYS = ("name", "support_level", "terms", "description", "proration")
PRORATIONS = ("daily",)


def read_plans(root: Path, problems: list[Problem]) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for path in sorted((root / "plans").glob("*.yaml")) if (root / "plans").is_dir() else []:
        data = _expect_mapping(read_yaml_file(path, root, problems), path, root, problems)
        if data is None:
            continue
        f = Fields(data, problems)
        f.check_keys(PLAN_KEYS, required=("name", "terms"))
        name = f.text("name")
        level = f.choice("support_level", SUPPORT_LEVELS, "hourly")
        terms: dict[str, tuple[RateChange, ...]] = {}
        if (tmap := f.mapping("terms")) is not None:
            for term, rates in tmap.items():
                changes = read_rate_changes(rates, Source(tmap.file, tmap.line_of(term)), f"term '{term}'", problems)
                if changes is not None:
                    terms[str(term)] = changes
        if not name:
            continue
        if name in plans:
            f.error("name", f"duplicate plan name '{name}' (also in {plans[name].source.file})")
            continue
        plans[name] = Plan(name, level or "hourly", terms, f.src(), f.choice("proration", PRORATIONS, "") or "")
    return plans


def read_rate_changes(value, where: Source, what: str, problems: list[Problem]) -> tuple[RateChange, ...] | None:
    """Rates written as one mapping, or as a list of mappings where every one after the first starts `from` a
    month (`from: 2024-11` or a date in it) and changes only the keys it names:

        "1 Year":
          - {per_user: 15.00, per_workstation: 75.00}
          - {from: 2024-11, per_user: 16.00}
    """
    if isinstance(value, YMap):
        values, per_device = read_rates(Fields(value, problems, what))
        return (RateChange(None, values, per_device),)
    if not isinstance(value, YList) or not value:
        problems.append(Problem(where, f"{what} should be a mapping of rates, or a list of them with from: dates",
                                "e.g. {per_user: 15.00} or [{per_user: 15.00}, {from: 2024-11, per_user: 16.00}]"))
        return None
    changes: list[RateChange] = []
    for index, entry in enumerate(value):
        line = Source(value.file, value.line_of(index))
        if not isinstance(entry, YMap):
            problems.append(Problem(line, f"{what}: each entry should be a mapping of rates"))
            continue
        r = Fields(entry, problems, what)
        start = r.month("from")
        if index and start is None and not r.has("from"):
            r.error(None, f"{what}: a rate change needs the month it starts from", "e.g. from: 2024-11")
        if changes and start is not None and changes[-1].start is not None and start <= changes[-1].start:
            r.error("from", f"{what}: changes must be in order of their from: {start} is not after "
                            f"{changes[-1].start}")
        values, per_device = read_rates(r, extra=("from",))
        changes.append(RateChange(start, values, per_device))
    return tuple(changes)


def read_rates(r: Fields, extra: tuple[str, ...] = ()) -> tuple[dict[str, Decimal], bool | None]:
    r.check_keys(RATE_KEYS + extra)
    values = {}
    for key in MONEY_RATE_KEYS:
        if (value := r.decimal(key, what="a rate")) is not None:
            values[key] = value
    for key in QUANTITY_RATE_KEYS:
        if (value := r.decimal(key, what="a number of TB")) is not None:
            values[key] = value
    return values, r.boolean(FLAG_RATE_KEYS[0])


