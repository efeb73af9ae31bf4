"""Read settings.yaml, services.yaml, plans/*.yaml and clients/*.yaml into a core Config.

Every value keeps its file and line; every mistake becomes a Problem; nothing is raised for bad input. The
parts live in sources.py, settings.py, catalog.py and clients.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import InputErrors, Problem, did_you_mean
from ..core.model import (
    Business,
    Config,
    Settings,
)
from ..filecache import persisted
from .catalog import read_plans, read_services
from .clients import client_files, read_clients
from .settings import read_settings

# --- all together ------------------------------------------------------------------------------------------------


def read_config(root: Path) -> Config:
    """The whole repo's YAML; raises InputErrors listing every problem found."""
    config, problems = read_config_collecting(root)
    if problems or config is None:
        raise InputErrors(problems)
    return config


def read_config_collecting(root: Path) -> tuple[Config | None, list[Problem]]:
    """The whole repo's YAML and every problem found; the Config is None when there are problems.

    `settings` is returned separately usable (via Config.settings) only when clean; callers that want to go on
    reading exports after a config problem use the timezone from `read_settings` themselves. Files unchanged
    since an earlier run are not parsed again (filecache.persisted).
    """
    with persisted(root):
        return _read_config(root)


def client_reader(root: Path) -> tuple[list[Path], Callable[[Sequence[Path]], object]]:
    """The client files, and a function that parses some of them into the active cache, the way the reading of
    the whole repo would (read_config_collecting then takes them from there): a share of the reading done
    elsewhere, by another process or ahead of time. Their problems are kept with them for that reading."""
    found: list[Problem] = []
    settings = read_settings(root, found) or Settings(Business(""))
    plans = read_plans(root, found)
    return client_files(root), lambda paths: read_clients(root, settings, plans, [], paths)


def _read_config(root: Path) -> tuple[Config | None, list[Problem]]:
    problems: list[Problem] = []
    settings = read_settings(root, problems)
    services = read_services(root, problems)
    plans = read_plans(root, problems)
    clients = read_clients(root, settings or Settings(Business("")), plans, problems)
    if settings is not None:
        for client in clients:
            for item in client.line_items:
                if item.kind == "service" and item.service not in services:
                    problems.append(Problem(item.source, f"service '{item.service}' is not in services.yaml",
                                            did_you_mean(item.service, services)))
    if problems or settings is None:
        return (Config(settings, plans, tuple(clients), services) if settings else None), problems
    return Config(settings=settings, plans=plans, clients=tuple(clients), services=services), problems

