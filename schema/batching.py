"""Fields with a batch form: one call answers a whole level of objects.

A batch form takes the list of parent objects, `info` and the field's own
arguments, and returns one value per parent, in order. `batched_field` makes
the Strawberry field from it: a per-object resolver calling it with `[root]`
(whose DataLoaders still batch across objects), while the lean executor
(schema/executor/) finds it with `batch_of` and calls it once per level.
Relationships (schema/relationships.py) are declared through it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

from schema.context import Info

BATCH = "storefront.batch"
# The longest a list field can be (schema/limits.py's cost model reads it).
LONGEST = "storefront.longest"

Batch = Callable[..., Awaitable[Sequence[Any]]]


def batched_field(
    batch: Batch,
    *,
    arguments: Callable[..., Any] | None = None,
    description: str | None = None,
    longest: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """A field resolved by `batch(parents, info, **arguments)`; its GraphQL arguments
    are the parameters of `arguments` (with their annotations and defaults). A list
    field says how `longest` it can be, or the cost model assumes 100."""

    async def resolve(root: Any, info: Info, **kwargs: Any) -> Any:
        [value] = await batch([root], info, **kwargs)
        return value

    parameters = [
        inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info),
    ]
    if arguments is not None:
        parameters += inspect.signature(arguments).parameters.values()
        # Strawberry reads the parameters' (string) annotations in the resolver's module.
        resolve.__module__ = arguments.__module__
    resolve.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    metadata = {BATCH: batch, **(metadata or {})}
    if longest is not None:
        metadata[LONGEST] = longest
    return strawberry.field(resolver=resolve, description=description, metadata=metadata)


def batch_of(field: StrawberryField) -> Batch | None:
    """The batch form of a field made by `batched_field`, if it is one."""
    found: Batch | None = field.metadata.get(BATCH)
    return found
