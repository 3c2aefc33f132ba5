"""Field errors in the lean executor's answer, placed as graphql-core places them.

The lean executor builds its answer level by level, so an object does not know
its path while it runs. Errors are rare: when a field fails, the executor sets
it to null and keeps a `Failure`; once every level has run, `place_errors`
walks the answer once to find each failed object's path, gives the error that
path, and carries the null up to the nearest nullable field or list item, as the
GraphQL specification's "handling field errors" asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    located_error,
)

from schema.errors import classify

if TYPE_CHECKING:
    from schema.executor.run import Run
    from schema.executor.shapes import Group


@dataclass(frozen=True, slots=True)
class Failed:
    """A resolver's exception standing in for one object's value."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Failure:
    """A field set to null because resolving it failed."""

    out: dict[str, Any]
    key: str
    nodes: list[FieldNode]
    nullable: bool
    error: Exception


# (container, key or index, whether that slot may hold null), root first.
Slot = tuple[Any, Any, bool]


def place_errors(
    run: Run, data: dict[str, Any], request_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The answer's data with failures nulled as far up as their types require, and
    its errors (coded, and masked when unexpected, by schema/errors.py)."""
    groups = {id(out): group for level in run.levels for group in level for out in group.outputs}
    located: dict[int, tuple[list[Any], list[Slot]]] = {}
    _visit(run, groups, located, data, [], [])
    answer: dict[str, Any] | None = data
    errors: list[dict[str, Any]] = []
    for failure in run.failures:
        where = located.get(id(failure.out))
        if answer is None or where is None or not _attached(where[1], failure.out):
            continue  # inside an object an earlier failure nulled
        path, chain = where
        error = located_error(failure.error, failure.nodes, [*path, failure.key])
        errors.append(dict(classify(error, request_id).formatted))
        failure.out[failure.key] = None
        if failure.nullable:
            continue
        for container, slot, nullable in reversed(chain):
            if nullable:
                container[slot] = None
                break
        else:
            answer = None
    return answer, errors


def _visit(
    run: Run,
    groups: dict[int, Group],
    located: dict[int, tuple[list[Any], list[Slot]]],
    obj: dict[str, Any],
    path: list[Any],
    chain: list[Slot],
) -> None:
    group = groups.get(id(obj))
    if group is None:
        return
    located[id(obj)] = (path, chain)
    fields = run.collect(group.type, group.selections)
    for key, value in obj.items():
        nodes = fields.get(key)
        if value is None or not nodes or not nodes[0].selection_set:
            continue
        field_type = group.type.fields[nodes[0].name.value].type
        _visit_value(run, groups, located, value, field_type, [*path, key], chain, (obj, key))


def _visit_value(
    run: Run,
    groups: dict[int, Group],
    located: dict[int, tuple[list[Any], list[Slot]]],
    value: Any,
    value_type: GraphQLOutputType,
    path: list[Any],
    chain: list[Slot],
    slot: tuple[Any, Any],
) -> None:
    nullable = not isinstance(value_type, GraphQLNonNull)
    inner = value_type.of_type if isinstance(value_type, GraphQLNonNull) else value_type
    link = [*chain, (*slot, nullable)]
    if isinstance(value, list) and isinstance(inner, GraphQLList):
        for index, item in enumerate(value):
            if item is not None:
                item_path = [*path, index]
                _visit_value(
                    run, groups, located, item, inner.of_type, item_path, link, (value, index)
                )
    elif isinstance(value, dict):
        _visit(run, groups, located, value, path, link)


def _attached(chain: list[Slot], out: dict[str, Any]) -> bool:
    """Whether `out` still hangs where the walk found it (no failure nulled its parents)."""
    for index, (container, slot, _) in enumerate(chain):
        expected = chain[index + 1][0] if index + 1 < len(chain) else out
        if container[slot] is not expected:
            return False
    return True
