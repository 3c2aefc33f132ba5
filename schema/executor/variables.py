"""Variables taken as they came when they are plain values of the built-in scalars.

Most documents declare a few variables of the built-in scalars (`$username: String!`,
`$id: ID!`, `$first: Int`), and clients send them as JSON strings, numbers and
booleans already of those types. graphql-core's `get_variable_values` walks every
definition through `type_from_ast`, `coerce_input_value` and the scalar's
`parse_value` all the same: 2 % of a served `post(id:)`, by py-spy. `plain_coercion`
decides once per document whether its definitions are all of that kind; then a value
of exactly its scalar's Python type is taken as it is, and anything else (a missing
non-null, a number for an ID, an Int out of range, a list) goes to graphql-core,
which coerces it or words its error as ever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import NamedTypeNode, NonNullTypeNode, VariableDefinitionNode

Coercion = Callable[[Mapping[str, Any]], dict[str, Any] | None]

# The Python type a value of each built-in scalar arrives as and is coerced to unchanged.
_TAKEN_AS_IS: dict[str, type] = {"String": str, "ID": str, "Int": int, "Boolean": bool}
INT_RANGE = range(-(2**31), 2**31)


def plain_coercion(definitions: Sequence[VariableDefinitionNode]) -> Coercion | None:
    """For definitions that are all of a built-in scalar, nullable or not, without a
    default or directives: a function from the request's variables to their coerced
    values, or to None where graphql-core must coerce them. None for other definitions."""
    plain: list[tuple[str, type, bool]] = []
    for definition in definitions:
        if definition.default_value is not None or definition.directives:
            return None
        type_node = definition.type
        required = isinstance(type_node, NonNullTypeNode)
        if isinstance(type_node, NonNullTypeNode):
            type_node = type_node.type
        if not isinstance(type_node, NamedTypeNode):
            return None
        kind = _TAKEN_AS_IS.get(type_node.name.value)
        if kind is None:
            return None
        plain.append((definition.variable.name.value, kind, required))

    def coerce(values: Mapping[str, Any]) -> dict[str, Any] | None:
        coerced: dict[str, Any] = {}
        for name, kind, required in plain:
            if name not in values:
                if required:
                    return None
                continue
            value = values[name]
            if value is None:
                if required:
                    return None
            elif type(value) is not kind or (kind is int and value not in INT_RANGE):
                return None
            coerced[name] = value
        return coerced

    return coerce
