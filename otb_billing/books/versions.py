"""Beancount's version without importing Beancount.

Importing any part of Beancount imports all of it (its package imports `beancount.api`): 40–70 ms, which a first
`otb bill`'s billing process never otherwise needs (its check's child does the loading). The version keys what
otb keeps between commands (a ledger known good, a kept parse), so it is read the way Beancount reads it: from
the VERSION file in its package folder.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys


def beancount_version() -> str:
    loaded = sys.modules.get("beancount")
    if loaded is not None and hasattr(loaded, "__version__"):
        return str(loaded.__version__)
    return _from_package()


@functools.cache
def _from_package() -> str:
    spec = importlib.util.find_spec("beancount")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        try:
            with open(os.path.join(folder, "VERSION"), encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError:
            continue
    import beancount  # laid out otherwise: ask it

    return str(getattr(beancount, "__version__", "?"))
