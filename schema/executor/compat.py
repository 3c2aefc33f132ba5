"""Every use of a library's private or undocumented parts, in one place.

The lean executor runs Strawberry's resolvers without Strawberry's executor, so it
needs a few things Strawberry keeps to itself, and one of asyncio's task protocol.
Each is wrapped here in a function named for what it gives, so the rest of the code
reads as if the libraries offered it, and an upgrade that moves one breaks here:
tests/schema/test_compat.py calls every function below against the installed
libraries and names the internal that moved (schema/executor/__init__.py says what
else to run before raising a version bound in pyproject.toml).

The lean executor calls none of these per object: only once per field, per
document or per awaited future, and it keeps what it learns of a field
(FastPath.resolvers). SQLAlchemy has nothing here: db/statements.py reads its
compiled statements through public API (and db/ may not import schema/).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
)
from strawberry.relay.types import GlobalID
from strawberry.schema.schema import Schema
from strawberry.schema.schema import validate_document as _strawberry_validate
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import _is_leaf_type, _is_optional_leaf_type
from strawberry.types.arguments import convert_arguments as _convert_arguments
from strawberry.types.base import StrawberryMaybe
from strawberry.types.field import StrawberryField

ArgumentConverter = Callable[[dict[str, Any], StrawberryField, Any], dict[str, Any]]

# The key under which Strawberry hangs, on each graphql-core field it builds, the
# StrawberryField it was built from.
_DEFINITION_KEY = GraphQLCoreConverter.DEFINITION_BACKREF

# The mark a Task reads on a future its coroutine yields: True means "awaited by
# `await`/`yield from`", the only kind of yield a Task accepts (asyncio.Future.__await__
# sets it; Task.__step clears it when it takes the future on).
_BLOCKING = "_asyncio_future_blocking"


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built and executes against."""
    return schema._schema


def strawberry_field(definition: GraphQLField) -> StrawberryField:
    """The StrawberryField a graphql-core field was built from (its name, arguments
    and resolver)."""
    field: StrawberryField = definition.extensions[_DEFINITION_KEY]
    return field


def strawberry_class(object_type: GraphQLObjectType) -> type | None:
    """The Python class Strawberry built a graphql-core object type from, if any."""
    definition = (object_type.extensions or {}).get(_DEFINITION_KEY)
    origin = getattr(definition, "origin", None)
    return origin if isinstance(origin, type) else None


def resolver_function(field: StrawberryField) -> Callable[..., Any] | None:
    """The function a field's resolver wraps, as Strawberry calls it (a static or class
    method already bound to its type); None for a field read off its object."""
    resolver = field.base_resolver
    if resolver is None:
        return None
    function: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
    return function


def argument_converter(schema: Schema) -> ArgumentConverter:
    """`convert(raw, field, info)`: a field's arguments as graphql-core coerced them
    (`raw`, by GraphQL name) turned into what its resolver takes (by Python name, input
    types as their classes, custom scalars parsed), as Strawberry turns them."""
    registry = schema.schema_converter.scalar_registry
    config = schema.config
    # By field: (GraphQL name, Python name) of each argument when every one is a scalar
    # or an enum, which Strawberry passes on as graphql-core coerced it; else None.
    plain: dict[StrawberryField, tuple[tuple[str, str], ...] | None] = {}

    def convert(raw: dict[str, Any], field: StrawberryField, info: Any) -> dict[str, Any]:
        names = plain.get(field, _UNKNOWN)
        if names is _UNKNOWN:
            names = plain[field] = _plain_arguments(field, registry, config)
        if names is not None:
            return {python: raw[name] for name, python in names if name in raw}
        return _convert_arguments(
            raw, field.arguments, scalar_registry=registry, config=config, info=info
        )

    return convert


_UNKNOWN: Any = object()


def _plain_arguments(
    field: StrawberryField, registry: Any, config: Any
) -> tuple[tuple[str, str], ...] | None:
    """`convert_arguments`' own test of a value it returns unchanged (a scalar or an enum,
    optional or not, but not a GlobalID), applied to every argument of `field`."""
    names = []
    for argument in field.arguments:
        kind = argument.type
        if isinstance(kind, StrawberryMaybe):
            return None  # convert_arguments wraps its value in Some()
        leaf = kind is not GlobalID and (
            _is_leaf_type(kind, registry, skip_classes=(GlobalID,))
            or _is_optional_leaf_type(kind, registry, skip_classes=(GlobalID,))
        )
        if not leaf or argument.python_name is None:
            return None
        names.append((config.name_converter.from_argument(argument), argument.python_name))
    return tuple(names)


def graphql_info(info: Any) -> Any:
    """graphql-core's resolve info behind Strawberry's `Info` (its `field_nodes`,
    `fragments`, ...); `info` itself when it is not Strawberry's, as the lean
    executor's is not."""
    return getattr(info, "_raw_info", info)


def validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Collection[type[ASTValidationRule]],
) -> list[GraphQLError]:
    """A document's validation errors as Strawberry finds them: `rules` plus the
    ones Strawberry adds for its own features (`Maybe` arguments, @oneOf inputs)."""
    return _strawberry_validate(schema, document, tuple(rules))


def take_future(yielded: Any) -> None:
    """Take a future a coroutine yielded (to await it) as a Task takes it on, so that
    it may be handed to a Task again later with `hand_on_future`. Anything that is not
    an awaited future is left alone."""
    if getattr(yielded, _BLOCKING, False):
        setattr(yielded, _BLOCKING, False)


def hand_on_future(yielded: Any) -> None:
    """Mark a future taken with `take_future` awaited again, as its own `__await__`
    would, before yielding it to the running Task."""
    if getattr(yielded, _BLOCKING, None) is False:
        setattr(yielded, _BLOCKING, True)
