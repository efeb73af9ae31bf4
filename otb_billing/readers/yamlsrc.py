"""A YAML loader that remembers the line of every value and reads numbers as Decimal, never float.

It also resolves scalars the YAML 1.2 way: only true/false are booleans, so `province: ON` stays the string
"ON" and `country: NO` stays "NO" (YAML 1.1 would turn both into booleans).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import yaml

try:  # libyaml is much faster; the pure-Python parser gives the same marks
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader


class YMap(dict):
    """A mapping that knows its file, its own line, and the line of each key."""

    file: str = ""
    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A sequence that knows its file, its own line, and the line of each item."""

    file: str = ""
    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class YInt(int):
    """An integer that keeps its text, so an account `012345` written without quotes is not mangled."""

    raw: str


class BadScalar(str):
    """A scalar YAML could not turn into what its tag says (`2024-02-30`, `!!float abc`): kept as its text with
    the reason, so the field that reads it reports it with its line, next to every other problem of the file."""

    why: str


def _bad(node: yaml.Node, why: str) -> BadScalar:
    value = BadScalar(node.value if isinstance(node, yaml.ScalarNode) else "")
    value.why = why
    return value


def _not_scalar(node: yaml.Node) -> BadScalar | None:
    """A scalar tag (!!int, !!float, !!timestamp) put on a list or a mapping."""
    if isinstance(node, yaml.ScalarNode):
        return None
    return _bad(
        node, f"a {node.tag.rsplit(':', 1)[-1]} tag on a {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}"
    )


class Loader(_BaseLoader):
    yaml_implicit_resolvers: dict = {}


_IMPLICIT = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9][0-9_]*$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+"
        r"|[-+]?[0-9][0-9_]*\.[0-9_]*)$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:timestamp", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", list("0123456789")),
]
for _tag, _regexp, _first in _IMPLICIT:
    Loader.add_implicit_resolver(_tag, re.compile(_regexp), _first)


def _expect(node: yaml.Node, kind: type, what: str) -> None:
    if not isinstance(node, kind):
        raise yaml.constructor.ConstructorError(
            None, None, f"a !!{node.tag.rsplit(':', 1)[-1]} tag needs {what}", node.start_mark
        )


def _construct_mapping(loader: Loader, node: yaml.MappingNode) -> YMap:
    _expect(node, yaml.MappingNode, "a mapping")
    loader.flatten_mapping(node)
    result = YMap()
    result.file = loader.name_for_errors
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, YInt):
            key = key.raw
        elif not isinstance(key, (str, int, bool, Decimal)) and key is not None:
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (it appears earlier on line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: Loader, node: yaml.SequenceNode) -> YList:
    _expect(node, yaml.SequenceNode, "a list")
    result = YList(loader.construct_object(child, deep=True) for child in node.value)
    result.file = loader.name_for_errors
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_int(loader: Loader, node: yaml.ScalarNode) -> YInt | BadScalar:
    if (bad := _not_scalar(node)) is not None:
        return bad
    text = node.value
    try:
        value = YInt(text.replace("_", ""))
    except ValueError:
        return _bad(node, f"'{text}' is not a whole number (write digits only, e.g. 30)")
    value.raw = text
    return value


def _construct_decimal(loader: Loader, node: yaml.ScalarNode) -> Decimal | BadScalar:
    if (bad := _not_scalar(node)) is not None:
        return bad
    try:
        value = Decimal(node.value.replace("_", ""))
    except InvalidOperation:
        return _bad(node, f"'{node.value}' is not a number (write it like 15.00)")
    return value if value.is_finite() else _bad(node, f"'{node.value}' is not a finite number")


def _construct_bool(loader: Loader, node: yaml.ScalarNode):
    if (bad := _not_scalar(node)) is not None:
        return bad
    value = {"true": True, "false": False}.get(node.value.strip().lower())
    return _bad(node, f"'{node.value}' is not true or false") if value is None else value


def _construct_timestamp(loader: Loader, node: yaml.ScalarNode):
    if (bad := _not_scalar(node)) is not None:
        return bad
    with contextlib.suppress(ValueError):
        return dt.date.fromisoformat(node.value.strip())
    try:  # a date and time: PyYAML's own reading
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, TypeError, AttributeError, IndexError):
        return _bad(node, f"'{node.value}' is not a date (write it as YYYY-MM-DD, a day that exists)")


Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def load_yaml(text: str, name: str):
    """Parse YAML text; `name` is the file name used in every later message. Raises yaml.YAMLError."""
    loader = Loader(text)
    loader.name_for_errors = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def yaml_error_line(error: yaml.YAMLError) -> tuple[int, str]:
    """(1-based line, message) of a YAML syntax error."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"{context}: {problem}" if context and context not in problem else problem
    return line, message
