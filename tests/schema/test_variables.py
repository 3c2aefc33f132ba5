"""Plain variables taken as they came (schema/executor/variables.py) are what graphql-core
coerces them to; whatever graphql-core must coerce or refuse goes to graphql-core."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_variable_values, parse

from schema.executor.compat import graphql_schema
from schema.executor.variables import plain_coercion
from tests.schema.test_fast import SCHEMA

DEFINITIONS = "$s: String!, $id: ID!, $n: Int, $b: Boolean, $t: String"
VALUES: list[dict[str, Any]] = [
    {"s": "x", "id": "UG9zdDox"},
    {"s": "", "id": "1", "n": 20, "b": False, "t": None},
    {"s": "é\u0000", "id": "i", "n": -(2**31), "b": True, "t": "y"},
    {"s": "x", "id": "i", "n": 2**31 - 1, "extra": [1, 2]},
]
# Each coerced or refused by graphql-core, never taken as it is.
HANDED_ON: list[dict[str, Any]] = [
    {"id": "i"},  # a missing non-null
    {"s": None, "id": "i"},  # a null non-null
    {"s": "x", "id": 7},  # a number for an ID: graphql-core makes it "7"
    {"s": "x", "id": "i", "n": 2**31},  # out of Int's range
    {"s": "x", "id": "i", "n": 2.0},  # a float for an Int
    {"s": "x", "id": "i", "n": True},  # a boolean for an Int
    {"s": "x", "id": "i", "b": 1},  # a number for a Boolean
    {"s": ["x"], "id": "i"},  # a list for a String
    {"s": {"a": 1}, "id": "i"},  # an object for a String
]


def _definitions(declared: str) -> Any:
    operation = parse(f"query Q({declared}) {{ __typename }}").definitions[0]
    return operation.variable_definitions  # type: ignore[attr-defined]


@pytest.mark.parametrize("values", VALUES)
def test_plain_values_are_what_graphql_core_coerces_them_to(values: dict[str, Any]) -> None:
    definitions = _definitions(DEFINITIONS)
    coerce = plain_coercion(definitions)
    assert coerce is not None

    taken = coerce(values)

    expected = get_variable_values(graphql_schema(SCHEMA), definitions, values)
    assert not isinstance(expected, list)
    assert taken == expected.coerced
    assert list(taken or ()) == list(expected.coerced)


@pytest.mark.parametrize("values", HANDED_ON)
def test_anything_else_goes_to_graphql_core(values: dict[str, Any]) -> None:
    coerce = plain_coercion(_definitions(DEFINITIONS))
    assert coerce is not None

    assert coerce(values) is None


@pytest.mark.parametrize(
    "declared",
    [
        "$n: Int = 3",
        "$ids: [ID!]!",
        "$order: PostOrder",
        "$where: PostFilter",
        "$f: Float",
        "$s: String @deprecated",
    ],
)
def test_other_definitions_are_all_left_to_graphql_core(declared: str) -> None:
    assert plain_coercion(_definitions(declared)) is None


def test_no_definitions_take_no_values() -> None:
    coerce = plain_coercion(())
    assert coerce is not None
    assert coerce({"anything": 1}) == {}
