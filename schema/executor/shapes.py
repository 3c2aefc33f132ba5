"""Completing values into the answer, as GraphQL's CompleteValue does, made once per
return type: leaves serialised, objects queued for the next level.

A completer is a closure built for one return type with its checks inline, since
it runs once per object (or, for leaves, once per level) of every response.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    SelectionSetNode,
)
from strawberry.types import get_object_definition

TEXT_SCALARS = frozenset({"String", "ID"})
SCALAR_PASS_THROUGH = {"String": str, "Int": int, "Boolean": bool, "ID": str}


class Unanswerable(Exception):
    """A resolver gave a value its field's type cannot hold (null in a non-null field)."""


class Group:
    """Objects of one type at one level, produced by the same field nodes."""

    # A plain class: a few are made per level of every request, and a dataclass's
    # default factories cost several times this __init__.
    __slots__ = ("outputs", "selections", "sources", "type")

    def __init__(
        self,
        type: GraphQLObjectType,
        selections: tuple[SelectionSetNode, ...],
        sources: list[Any] | None = None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> None:
        self.type = type
        self.selections = selections
        self.sources: list[Any] = [] if sources is None else sources
        self.outputs: list[dict[str, Any]] = [] if outputs is None else outputs


# A level still being built, its groups by object type and selection sets.
NextLevel = dict[tuple[str, tuple[int, ...]], Group]


class Completer:
    """Queues one field's objects for the next level, grouped by their runtime type."""

    def __init__(self, selections: tuple[SelectionSetNode, ...], next_level: NextLevel) -> None:
        self.selections = selections
        self.selection_ids = tuple(id(s) for s in selections)
        self.next_level = next_level
        self.groups: dict[str, Group] = {}

    def group(self, object_type: GraphQLObjectType) -> Group:
        """The next level's group for `object_type` under these selections."""
        found = self.groups.get(object_type.name)
        if found is None:
            key = (object_type.name, self.selection_ids)
            found = self.next_level.get(key)
            if found is None:
                found = self.next_level[key] = Group(object_type, self.selections)
            self.groups[object_type.name] = found
        return found

    def add(self, object_type: GraphQLObjectType, value: Any) -> dict[str, Any]:
        """A placeholder for `value`'s JSON object, filled in when the next level runs."""
        group = self.group(object_type)
        out: dict[str, Any] = {}
        group.sources.append(value)
        group.outputs.append(out)
        return out

    def add_all(self, object_type: GraphQLObjectType, values: list[Any]) -> list[dict[str, Any]]:
        """`add` for a list with no null in it, in bulk: a page's objects are most of
        what a level completes, and a call per object was the most of it."""
        group = self.group(object_type)
        outs: list[dict[str, Any]] = [{} for _ in values]
        group.sources.extend(values)
        group.outputs.extend(outs)
        return outs


_is_none = functools.partial(operator.is_, None)


Shape = Callable[[Any, Completer], Any]


def shape(return_type: GraphQLOutputType, gql: GraphQLSchema) -> Shape:
    """Completes a value of an object (or list, or interface) type.

    An object type, or a list of one, nullable or not (nearly every field), gets one
    closure with the checks inline.
    """
    required = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if isinstance(inner, GraphQLObjectType):
        return _object_shape(inner, required)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_required = isinstance(item, GraphQLNonNull)
        item_type = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(item_type, GraphQLObjectType):
            return _list_shape(item_type, required, item_required)
    return _any_shape(return_type, gql)


def _object_shape(object_type: GraphQLObjectType, required: bool) -> Shape:
    def complete(value: Any, completer: Completer) -> Any:
        if value is None:
            if required:
                raise Unanswerable("null in a non-null field")
            return None
        return completer.add(object_type, value)

    return complete


def _list_shape(item_type: GraphQLObjectType, required: bool, item_required: bool) -> Shape:
    def complete(values: Any, completer: Completer) -> Any:
        if values is None:
            if required:
                raise Unanswerable("null in a non-null field")
            return None
        if not isinstance(values, list):
            values = list(values)
        if item_required:
            if any(map(_is_none, values)):
                raise Unanswerable("null in a list of non-null items")
            return completer.add_all(item_type, values)
        return [None if value is None else completer.add(item_type, value) for value in values]

    return complete


def _any_shape(return_type: GraphQLOutputType, gql: GraphQLSchema) -> Shape:
    if isinstance(return_type, GraphQLNonNull):
        inner = _any_shape(return_type.of_type, gql)

        def non_null(value: Any, completer: Completer) -> Any:
            if value is None:
                raise Unanswerable("null in a non-null field")
            return inner(value, completer)

        return non_null
    if isinstance(return_type, GraphQLList):
        item = _any_shape(return_type.of_type, gql)
        return lambda value, completer: (
            None if value is None else [item(v, completer) for v in value]
        )
    if isinstance(return_type, GraphQLObjectType):
        object_type = return_type
        return lambda value, completer: None if value is None else completer.add(object_type, value)
    if isinstance(return_type, GraphQLInterfaceType):
        concrete_types: dict[type, GraphQLObjectType] = {}

        def abstract(value: Any, completer: Completer) -> Any:
            if value is None:
                return None
            concrete = concrete_types.get(type(value))
            if concrete is None:
                concrete = concrete_types[type(value)] = _object_type_of(type(value), gql)
            return completer.add(concrete, value)

        return abstract
    raise Unanswerable(f"cannot complete a value of {return_type}")


def _object_type_of(cls: type, gql: GraphQLSchema) -> GraphQLObjectType:
    """The object type whose values are instances of `cls` (an interface field's value)."""
    definition = get_object_definition(cls)
    concrete = gql.get_type(definition.name) if definition else None
    if not isinstance(concrete, GraphQLObjectType):
        raise Unanswerable(f"no object type for {cls.__name__}")
    return concrete


def leaves(
    return_type: GraphQLOutputType, leaf: Callable[[Any], Any]
) -> Callable[[Sequence[Any]], list[Any]]:
    """Serialises a level's values of one leaf field: a built-in scalar (nearly every
    leaf) in one comprehension, anything else value by value through `leaf`."""
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    python_type = (
        SCALAR_PASS_THROUGH.get(inner.name) if isinstance(inner, GraphQLScalarType) else None
    )
    if python_type is None:
        return lambda values: [leaf(value) for value in values]

    def scalars(values: Sequence[Any]) -> list[Any]:
        if all(type(value) is python_type for value in values):
            return list(values)
        return [leaf(value) for value in values]

    return scalars


def leaf(return_type: GraphQLOutputType) -> Callable[[Any], Any]:
    """Serialises a scalar or enum field's value (or list of them)."""
    if isinstance(return_type, GraphQLNonNull):
        inner = leaf(return_type.of_type)

        def non_null(value: Any) -> Any:
            if value is None:
                raise Unanswerable("null in a non-null field")
            return inner(value)

        return non_null
    if isinstance(return_type, GraphQLList):
        item = leaf(return_type.of_type)
        return lambda value: None if value is None else [item(v) for v in value]
    if not isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
        raise Unanswerable(f"{return_type} is not a leaf type")
    serialize = return_type.serialize
    python_type = SCALAR_PASS_THROUGH.get(return_type.name)

    def scalar(value: Any) -> Any:
        if value is None:
            return None
        # Built-in scalars already of their type need no serialising.
        return value if type(value) is python_type else serialize(value)

    return scalar


def is_text(return_type: GraphQLOutputType) -> bool:
    """Whether a leaf field's values are strings, whose length counts in the answer."""
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    return isinstance(inner, GraphQLScalarType) and inner.name in TEXT_SCALARS
