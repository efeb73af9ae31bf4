"""One YAML file of the billing repo read into a line-aware mapping; a syntax error becomes a Problem."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from ..core.errors import Problem, Source
from ..filecache import cached
from .fields import type_name
from .yamlsrc import YMap, load_yaml, yaml_error_line

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
BEANCOUNT_ACCOUNT_RE = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)+$")
BANK_CSV_ROLES = ("date", "amount", "description", "reference", "date_format", "currency", "number_format")



FAILED = object()  # what read_yaml_file returns when the file could not be parsed (the problem is recorded)
MAX_INPUT_BYTES = 512 * 1024 * 1024  # an input file larger than this is not an export or a settings file


def present(path: Path) -> bool:
    """True when `path` is there to read, or is there but broken (a dangling link): not silently absent."""
    return path.exists() or path.is_symlink()


def read_text(path: Path, name: str, problems: list[Problem], hint: str = "save it as UTF-8",
              encoding: str = "utf-8-sig") -> str | None:
    """The text of a file the billing repo names (newlines as Python's text files give them), or None with a
    Problem saying why it cannot be read. One open and one fstat: a thousand client files are read per bill."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_INPUT_BYTES:
                problems.append(Problem(Source(name), f"is larger than {MAX_INPUT_BYTES // 2**20} MiB",
                                        "split it, or check that it is the right file"))
                return None
            data = handle.read()
    except IsADirectoryError:
        problems.append(Problem(Source(name), "is a folder, not a file", "remove or rename the folder"))
        return None
    except FileNotFoundError as exc:
        if path.is_symlink():
            problems.append(Problem(Source(name), f"is a link to {path.readlink()}, which does not exist",
                                    "restore the file it points to, or remove the link"))
        else:
            problems.append(Problem(Source(name), f"cannot be read: {exc.strerror or exc}"))
        return None
    except OSError as exc:
        problems.append(Problem(Source(name), f"cannot be read: {exc.strerror or exc}"))
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        what = "UTF-8" if encoding.replace("-", "").lower().startswith("utf8") else encoding
        problems.append(Problem(Source(name), f"not {what} text ({exc.reason} at byte {exc.start})", hint))
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text  # universal newlines


def read_yaml_file(path: Path, root: Path, problems: list[Problem]):
    """Parse one YAML file; a syntax error becomes a Problem and FAILED is returned (cached by `otb watch`)."""
    return cached("yaml", path, None, problems, lambda found: _parse_yaml_file(path, root, found))


def _parse_yaml_file(path: Path, root: Path, problems: list[Problem]):
    name = relative_name(path, root)
    text = read_text(path, name, problems)
    if text is None:
        return FAILED
    try:
        return load_yaml(text, name)
    except yaml.YAMLError as exc:
        line, message = yaml_error_line(exc)
        hint = "" if "duplicate key" in message else "check indentation, colons and quotes on this line"
        problems.append(Problem(Source(name, line), f"YAML syntax error: {message}", hint))
        return FAILED
    except RecursionError:
        problems.append(Problem(Source(name), "YAML nested too deeply to read", "is this the right file?"))
        return FAILED
    except (KeyError, AttributeError, ValueError, TypeError, IndexError, OverflowError) as exc:
        # PyYAML's own constructors (binary, sets, pairs) raise these on odd tagged values
        problems.append(Problem(Source(name), f"YAML that cannot be read: {type(exc).__name__}: {exc}",
                                "look for a !!tag in this file; tags are not needed anywhere"))
        return FAILED


def relative_name(path: Path, root: Path) -> str:
    """`clients/620547-acme.yaml`: the path as the billing admin knows it (a link keeps its own name)."""
    text, top = str(path), str(root)
    if text.startswith(top + os.sep) and os.path.isabs(top) and os.sep == "/" and "/." not in text[len(top):]:
        return text[len(top) + 1:]  # the usual case, without pathlib (a thousand client files per bill)
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError, RuntimeError):
            return str(path)


def _expect_mapping(data, path: Path, root: Path, problems: list[Problem]) -> YMap | None:
    if data is FAILED:
        return None
    if data is None:
        problems.append(Problem(Source(relative_name(path, root), 1), "the file is empty"))
        return None
    if not isinstance(data, YMap):
        problems.append(
            Problem(Source(relative_name(path, root), 1), f"should hold key: value lines, not {type_name(data)}")
        )
        return None
    return data
