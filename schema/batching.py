"""Batch forms of resolvers: one call for every object of a level.

A relationship's resolver is written once, for a list of objects; the
per-object Strawberry resolver calls it with `[self]` (its DataLoader still
batches across objects), and the lean executor (schema/fast.py) calls it once
for the whole level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BATCH_ATTRIBUTE = "__batch_of__"


def batch(field_name: str) -> Callable[[Callable[..., Any]], Any]:
    """Mark a function as the batch form of `field_name`'s resolver (a static method).

    It takes the list of objects, `info`, and the resolver's own keyword
    arguments, and returns one value per object, in order.
    """

    def mark(fn: Callable[..., Any]) -> Any:
        setattr(fn, BATCH_ATTRIBUTE, field_name)
        return staticmethod(fn)

    return mark


def batch_form(cls: type, field_name: str) -> Callable[..., Any] | None:
    """The batch form of `field_name` that `cls` (or a base of it) declares, if any."""
    for klass in cls.__mro__:
        for value in vars(klass).values():
            fn = getattr(value, "__func__", value)
            if getattr(fn, BATCH_ATTRIBUTE, None) == field_name:
                return fn  # type: ignore[no-any-return]
    return None
