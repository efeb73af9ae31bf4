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
    Rates,
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

PLAN_KEYS = ("name", "support_level", "terms", "description")


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
        terms: dict[str, Rates] = {}
        if (tmap := f.mapping("terms")) is not None:
            for term, rates in tmap.items():
                if not isinstance(rates, YMap):
                    problems.append(Problem(Source(tmap.file, tmap.line_of(term)),
                                            f"term '{term}' should be a mapping of rates"))
                    continue
                values, per_device = read_rates(Fields(rates, problems, f"term '{term}'"))
                terms[str(term)] = Rates(values, bool(per_device))
        if not name:
            continue
        if name in plans:
            f.error("name", f"duplicate plan name '{name}' (also in {plans[name].source.file})")
            continue
        plans[name] = Plan(name, level or "hourly", terms, f.src())
    return plans


def read_rates(r: Fields) -> tuple[dict[str, Decimal], bool | None]:
    r.check_keys(RATE_KEYS)
    values = {}
    for key in MONEY_RATE_KEYS:
        if (value := r.decimal(key, what="a rate")) is not None:
            values[key] = value
    for key in QUANTITY_RATE_KEYS:
        if (value := r.decimal(key, what="a number of TB")) is not None:
            values[key] = value
    return values, r.boolean(FLAG_RATE_KEYS[0])


