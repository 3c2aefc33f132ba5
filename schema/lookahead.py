"""What a resolver's objects will be asked for, read from the document before their
rows are fetched, so that a relation can come in the same statement as its parent.

Reading more than the response uses is harmless (it only joins columns nobody
reads), so fragments are followed whatever their type condition and @skip/@include
are not evaluated: the answer is a superset, the same for every run of a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from schema.executor.compat import graphql_info

# The field metadata key of a lookup of one object that, `alone`, reads without a
# loader: it queues no batch for its level to claim, so the lean executor awaits it as
# it is, with no gathering around it (a fortieth of a post by ID's instructions).
READS_ALONE = "storefront.reads_alone"


def alone(info: Any) -> bool:
    """Whether the resolver's field is a lookup declared `READS_ALONE` and the only field
    of its level, on its one object (`{ post(id: ...) { ... } }`): its read can then
    join no other field's statement, and needs no loader to batch it. Only the lean
    executor knows (its `FastInfo.alone`); under Strawberry's, False."""
    return getattr(info, "alone", False) is True


def selected(info: Any, *path: str) -> frozenset[str]:
    """Names of the fields selected on the objects at `path` below the resolver's field.

    `selected(info)` for a field returning an object (or list of them),
    `selected(info, "edges", "node")` for a connection's nodes. `info` is
    Strawberry's (its graphql-core info) or the lean executor's, which carry the
    same `field_nodes` and `fragments`, and keeps the answer for the document's
    next runs.
    """
    memo: dict[Any, Any] | None = getattr(info, "memo", None)
    if memo is None:
        return _selected(info, path)
    key = ("selected", *map(id, info.field_nodes), *path)
    found: frozenset[str] | None = memo.get(key)
    if found is None:
        found = memo[key] = _selected(info, path)
    return found


def _selected(info: Any, path: tuple[str, ...]) -> frozenset[str]:
    raw = graphql_info(info)
    fragments: Mapping[str, FragmentDefinitionNode] = raw.fragments
    fields: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        fields = [child for child in _children(fields, fragments) if child.name.value == name]
    return frozenset(child.name.value for child in _children(fields, fragments))


def only_child(info: Any, name: str, *path: str) -> FieldNode | None:
    """The one field `name` selected on the resolver field's objects (or on the objects
    at `path` below them, as for `selected`), unless it is selected more than once
    (aliases may give each its own arguments) or under a directive, its own, a
    fragment's or one on the way down (whose verdict depends on the run): then None,
    as when it is absent. Kept for the document's next runs, as `selected` is."""
    memo: dict[Any, Any] | None = getattr(info, "memo", None)
    if memo is None:
        return _only_child(info, name, path)
    key = ("only", *map(id, info.field_nodes), name, *path)
    if key not in memo:
        memo[key] = _only_child(info, name, path)
    found: FieldNode | None = memo[key]
    return found


def _only_child(info: Any, name: str, path: tuple[str, ...]) -> FieldNode | None:
    raw = graphql_info(info)
    fields: list[FieldNode] = list(raw.field_nodes)
    for step in (*path, name):
        found = [pair for pair in _marked(fields, raw.fragments) if pair[0].name.value == step]
        if any(conditional or child.directives for child, conditional in found):
            return None
        fields = [child for child, _ in found]
    return fields[0] if len(fields) == 1 else None


def _children(
    fields: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    return (child for child, _ in _marked(fields, fragments))


def _marked(
    fields: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[tuple[FieldNode, bool]]:
    """The fields selected below `fields`, fragments followed, each with whether a
    fragment it came through carries a directive."""
    for field in fields:
        if field.selection_set is not None:
            yield from _flatten(field.selection_set, fragments, set(), False)


def _flatten(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    visited: set[str],
    conditional: bool,
) -> Iterator[tuple[FieldNode, bool]]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection, conditional
            continue
        under = conditional or bool(selection.directives)
        if isinstance(selection, InlineFragmentNode):
            yield from _flatten(selection.selection_set, fragments, visited, under)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visited:
                visited.add(name)
                yield from _flatten(fragment.selection_set, fragments, visited, under)
