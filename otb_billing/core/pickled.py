"""Frozen dataclasses pickled as their class and field values, the way a NamedTuple is.

A slots dataclass is otherwise pickled through dataclasses' own __getstate__/__setstate__, Python functions run
for every object: the clients of `otb bill` cross from the child that reads the YAML, and come back from the
cache, about 40% faster this way (1,000 clients: 0.058 -> 0.037 s to pickle and read back).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)


def by_fields(cls: T) -> T:
    """Class decorator (below @dataclass): unpickling calls the class with the fields in order."""
    fields = dataclasses.fields(cls)
    if any(not field.init for field in fields):
        raise TypeError(f"{cls.__name__}: every field must be an __init__ argument to be pickled by fields")
    names = tuple(field.name for field in fields)

    def __reduce__(self):
        return cls, tuple([getattr(self, name) for name in names])

    cls.__reduce__ = __reduce__  # type: ignore[method-assign, assignment]
    return cls
