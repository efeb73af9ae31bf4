"""One YAML file of the billing repo read into a line-aware mapping; a syntax error becomes a Problem."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..core.errors import Problem, Source
from .fields import type_name
from .yamlsrc import YMap, load_yaml, yaml_error_line

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
LINK_RE = re.compile(r"^[A-Za-z0-9\-_/.]+$")
BEANCOUNT_ACCOUNT_RE = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)+$")
BANK_CSV_ROLES = ("date", "amount", "description", "reference", "date_format", "currency")



FAILED = object()  # what read_yaml_file returns when the file could not be parsed (the problem is recorded)


def read_yaml_file(path: Path, root: Path, problems: list[Problem]):
    """Parse one YAML file; a syntax error becomes a Problem and FAILED is returned."""
    name = relative_name(path, root)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(Source(name), f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8"))
        return FAILED
    try:
        return load_yaml(text, name)
    except yaml.YAMLError as exc:
        line, message = yaml_error_line(exc)
        hint = "" if "duplicate key" in message else "check indentation, colons and quotes on this line"
        problems.append(Problem(Source(name, line), f"YAML syntax error: {message}", hint))
        return FAILED


def relative_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _expect_mapping(data, path: Path, root: Path, problems: list[Problem]) -> YMap | None:
    if data is FAILED:
        return None
    if data is None:
        problems.append(Problem(Source(relative_name(path, root), 1), "the file is empty"))
        return None
    if not isinstance(data, YMap):
        problems.append(Problem(Source(relative_name(path, root), 1), f"should hold key: value lines, not {type_name(data)}"))
        return None
    return data


