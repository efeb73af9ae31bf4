"""Typed, line-aware access to one YAML mapping, appending a Problem for every wrong value.

Every getter returns a usable default after recording a problem, so one pass finds all mistakes in a file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal

from ..core.errors import Problem, Source, did_you_mean
from ..core.money import number_problem, parse_decimal
from ..core.month import Month, check_date
from .yamlsrc import BadScalar, YInt, YList, YMap

_MISSING = object()


def type_name(value) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


class Fields:
    """Wraps one YMap; `what` names it in messages (e.g. "rates", "line item 2")."""

    def __init__(self, mapping: YMap, problems: list[Problem], what: str = ""):
        self.map = mapping
        self.problems = problems
        self.what = what

    # -- bookkeeping --------------------------------------------------------------------------------------------

    def src(self, key=None) -> Source:
        return Source(self.map.file, self.map.line_of(key) if key is not None else self.map.line)

    def error(self, key, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.src(key), message, hint))

    def _label(self, key) -> str:
        return f"{self.what}: '{key}'" if self.what else f"'{key}'"

    def check_keys(self, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        for key in self.map:
            if key not in allowed:
                where = f" in {self.what}" if self.what else ""
                self.error(key, f"unknown key '{key}'{where}", did_you_mean(str(key), allowed))
        for key in required:
            if self.map.get(key) in (None, ""):
                where = f" in {self.what}" if self.what else ""
                self.error(None, f"missing required key '{key}'{where}")

    def has(self, key) -> bool:
        return self.map.get(key) is not None

    def _typed(self, key):
        """The value of `key` for a typed getter: None when absent, or when YAML could not read it (reported)."""
        value = self.map.get(key)
        if isinstance(value, BadScalar):
            self.error(key, f"{self._label(key)}: {value.why}")
            return None
        return value

    # -- typed getters ------------------------------------------------------------------------------------------

    def text(self, key, default: str = "", multiline: bool = False) -> str:
        """Text of one line (names end up in the ledger, file names and CSVs), or of several with `multiline`."""
        value = self.map.get(key)
        if value is None:
            return default
        if isinstance(value, YInt):
            return value.raw
        if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
            text = str(value).strip()
            if control_character(text, multiline):
                self.error(key, f"{self._label(key)} has a line break or a control character",
                           "write it on one line" if not multiline else "remove the control character")
                return default
            return text
        self.error(key, f"{self._label(key)} should be text, not {type_name(value)}")
        return default

    def texts(self, key) -> tuple[str, ...]:
        """One string or a list of strings."""
        value = self.map.get(key)
        if value is None:
            return ()
        if isinstance(value, YList):
            out = []
            for index, item in enumerate(value):
                if isinstance(item, (dict, list)) or item is None:
                    self.problems.append(
                        Problem(
                            Source(self.map.file, value.line_of(index)),
                            f"{self._label(key)}: each entry should be text",
                        )
                    )
                elif control_character(str(item), False):
                    self.problems.append(
                        Problem(
                            Source(self.map.file, value.line_of(index)),
                            f"{self._label(key)}: an entry has a line break or a control character",
                            "write each entry on one line",
                        )
                    )
                else:
                    out.append(item.raw if isinstance(item, YInt) else str(item).strip())
            return tuple(out)
        return (self.text(key),)

    def decimal(self, key, default: Decimal | None = None, *, allow_negative=False, what="a number"):
        value = self._typed(key)
        if value is None:
            return default
        number = to_decimal(value)
        if number is None:
            if isinstance(value, str) and "," in value:
                self.error(
                    key,
                    f"{self._label(key)} is '{value}': a comma is not a decimal mark in YAML",
                    "write it like 15.00 (a dot for decimals, no thousands separator)",
                )
            else:
                self.error(
                    key, f"{self._label(key)} should be {what}, not {type_name(value)} '{value}'", "write it like 15.00"
                )
            return default
        if why := number_problem(number):
            self.error(key, f"{self._label(key)}: {why}")
            return default
        if number < 0 and not allow_negative:
            self.error(key, f"{self._label(key)} is negative ({value})", "amounts and quantities must be 0 or more")
            return default
        return number

    def integer(self, key, default: int | None = None, *, low: int | None = None, high: int | None = None):
        value = self._typed(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"{self._label(key)} should be a whole number, not {type_name(value)} '{value}'")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(key, f"{self._label(key)} is {value}; it should be between {low} and {high}")
            return default
        return int(value)

    def boolean(self, key, default=None):
        value = self._typed(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
            return BOOL_WORDS[value.strip().lower()]
        self.error(key, f"{self._label(key)} should be true or false, not '{value}'")
        return default

    def month(self, key) -> Month | None:
        value = self._typed(key)
        if value is None:
            return None
        if isinstance(value, dt.date):
            if isinstance(value, dt.datetime):
                value = value.date()
            if why := check_date(value):
                self.error(key, f"{self._label(key)}: {why}")
                return None
            return Month.of(value)
        try:
            return Month.parse(str(value.raw if isinstance(value, YInt) else value))
        except ValueError as exc:
            self.error(key, f"{self._label(key)}: {exc}")
            return None

    def date(self, key) -> dt.date | None:
        value = self._typed(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.error(key, f"{self._label(key)}: '{value}' is not a date", "write it as YYYY-MM-DD")
            return None
        if why := check_date(day):
            self.error(key, f"{self._label(key)}: {why}")
            return None
        return day

    def mapping(self, key) -> YMap | None:
        value = self.map.get(key)
        if value is None:
            return None
        if not isinstance(value, YMap):
            self.error(key, f"{self._label(key)} should be a mapping (key: value lines), not {type_name(value)}")
            return None
        return value

    def sequence(self, key) -> YList | None:
        value = self.map.get(key)
        if value is None:
            return None
        if not isinstance(value, YList):
            self.error(key, f"{self._label(key)} should be a list (lines starting with '- '), not {type_name(value)}")
            return None
        return value

    def choice(self, key, choices: Iterable[str], default: str | None = None) -> str | None:
        value = self.text(key)
        if not value:
            return default
        normalized = normalize_word(value)
        choices = list(choices)
        if normalized not in choices:
            self.error(
                key,
                f"{self._label(key)} is '{value}', not one of: {', '.join(choices)}",
                did_you_mean(normalized, choices, list_known=False),
            )
            return default
        return normalized


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029]")


def control_character(text: str, multiline: bool = False) -> bool:
    """True when `text` holds a line break (unless `multiline`) or another control character."""
    return bool((_CONTROL_BUT_NEWLINE if multiline else _CONTROL).search(text))


BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def normalize_word(text: str) -> str:
    """`No Charge` -> `no_charge`, `VM` -> `vm`."""
    return "_".join(text.strip().lower().replace("-", " ").split())


def to_decimal(value) -> Decimal | None:
    """A YAML value as Decimal, or None when it is not a number (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, YInt):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:  # quoted numbers in YAML: digits, a dot for decimals; commas only between groups of three
            return parse_decimal(value) if "," not in value else None
        except ValueError:
            return None
    return None
