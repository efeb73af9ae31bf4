"""Jinja2 templates the user can edit: `<billing repo>/templates/` first, then the defaults shipped in the package
(otb_billing/templates, package data: present in a wheel install as in a checkout)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

DEFAULTS = Path(str(resources.files("otb_billing") / "templates"))


def environment(root: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader([str(root / "templates"), str(DEFAULTS)]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False,
                                     default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(root: Path, name: str, **values) -> str:
    return environment(root).get_template(name).render(**values)


def render_first(root: Path, names: list[str], **values) -> str:
    """The first of `names` that exists (the user's folder first for each), e.g. a French template, then English."""
    return environment(root).select_template(names).render(**values)
