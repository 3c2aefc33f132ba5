"""Which fields an inline plan (schema/executor/inline.py) answers, and how it reads
each: off objects, off the tuples of a riding relation, or straight off a page's rows.

Objects. Every field below is read off its object: an attribute, a synchronous resolver
that takes no arguments and no `info`, or a relation riding in the object's row
(`Ride`), each of whose objects it checks came with its join.

Rows. A connection's edges are made from its page's rows (schema/pagination.py), each
edge's node from the row and each node's plain fields from the row's columns. Where
every field the document reads below the edges is a column the node type names
(`ROW_COLUMNS`), its ID, or a riding relation, the plan reads the rows themselves and no edge
or node is made: a post's title is `row["title"]`, its author's username
`row["author__username"]`. The joins it reads are checked once per page, against those
the page was fetched with.

Pairs. Where a root list read a connection field of its nodes ahead (`PagesAhead`), and
that field is the one thing read of the nodes besides columns and IDs, the plan reads
(row, connection) pairs: columns off the row, the field off the connection made from the
page read with it. The pages must have been read for that very selection of the field.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    SelectionSetNode,
)

from db.relations import Join, Relations
from db.rows import DbRow, row_id
from schema.executor.compat import strawberry_class
from schema.executor.inline import (
    Column,
    Leaf,
    Nested,
    NotInline,
    Plan,
    itself,
    objects_of,
)
from schema.executor.resolvers import Resolver
from schema.executor.shapes import SCALAR_PASS_THROUGH, is_text
from schema.ids import encode_id
from schema.pagination import ROW, ROWS, page_rows, pages_ahead
from schema.relationships import READ_AHEAD, Connected, Related, Ride, relationship_of
from schema.types.node import ID_OF_PK

if TYPE_CHECKING:
    from schema.executor.run import Run


class _Never:
    """No value is of this type: a leaf whose values always go through its completer."""


def plan_for(
    run: Run,
    object_type: GraphQLObjectType,
    selections: tuple[SelectionSetNode, ...],
    fields: tuple[str, ...] | None = None,
    ahead: bool = False,
) -> Plan | None:
    """The plan for `object_type`'s objects under `selections`, or None when some field
    below them must be resolved level by level. With `fields`, the plan answers tuples
    of those attributes (`Ride.values`), or with one field its values themselves
    (`Ride.columns`), instead of objects, and there is none unless every field
    selected is one of them. With `ahead`, the objects' fields read ahead with them
    (`READ_AHEAD`) are answered off what was read."""
    keys: list[tuple[str, Any]] = []
    carries = ahead and READ_AHEAD in getattr(
        strawberry_class(object_type), "__dataclass_fields__", {}
    )
    leaves: list[Leaf] = []
    nested: list[Nested] = []
    for key, definition, resolver, below, nodes in _selected(run, object_type, selections, keys):
        if carries and len(nodes) == 1 and _may_read_ahead(resolver):
            read_ahead = _read_ahead_of(nodes[0])
            if not below:  # a value (a count)
                leaves.append(_leaf(run, key, definition, read_ahead, None))
                continue
            one = _one_object(run, key, definition, below, read_ahead)
            if one is None:
                return None
            nested.append(one)
            continue
        if fields is not None:
            if below and resolver.function is None:
                # An object made from the same tuple: its fields are `<attribute>.<field>`.
                inner = _inner(fields, resolver.attribute)
                one = (
                    None
                    if inner is None
                    else _one_object(run, key, definition, below, itself, inner)
                )
                if one is None:
                    return None
                nested.append(one)
                continue
            if below or resolver.function is not None or resolver.attribute not in fields:
                return None
            if len(fields) == 1:  # the values themselves (`Ride.columns`)
                leaves.append(_leaf(run, key, definition, itself, None))
            else:
                position = fields.index(resolver.attribute)
                leaves.append(_leaf(run, key, definition, itemgetter(position), position))
            continue
        if below and resolver.field.metadata.get(ROWS) and not definition.args:
            found = objects_of(definition.type)
            on_rows = _on_rows(run, found[0], below, ahead) if found is not None else None
            if found is not None and on_rows is not None:
                _, many, required, items_required = found
                rows_plan, get_rows = on_rows
                nested.append((key, get_rows, None, rows_plan, many, required, items_required))
                continue
        read = _reader(resolver, definition)
        if read is None:
            return None
        get: Callable[[Any], Any]
        get, ride = read
        join = None if ride is None else ride.join
        if not below:
            if join is not None:
                return None
            attribute = resolver.attribute if resolver.function is None else None
            leaves.append(_leaf(run, key, definition, get, attribute))
            continue
        found = objects_of(definition.type)
        if found is None:
            return None
        element, many, required, items_required = found
        listed = _ride_list(run, ride, element, below) if ride is not None and many else None
        plan: Plan | None = None
        if listed is not None:
            plan, get = listed
        else:
            plan = run.inline_plan(element, below)
        if plan is None:
            return None
        nested.append((key, get, join, plan, many, required, items_required))
    return Plan(keys, leaves, nested, _fixed(keys))


def plan_for_rows(
    run: Run,
    object_type: GraphQLObjectType,
    selections: tuple[SelectionSetNode, ...],
    prefix: str,
    paired: bool = False,
) -> Plan | None:
    """The plan for rows that `object_type`'s objects are made from, their columns named
    `<prefix><column>` (see the module's docstring), or None where some field read
    needs the objects themselves. `paired`: for (row, connection) pairs, where one
    connection field is answered off the connection read ahead with the row."""
    columns: Mapping[str, str] = getattr(strawberry_class(object_type), "ROW_COLUMNS", {})
    keys: list[tuple[str, Any]] = []
    leaves: list[Leaf] = []
    nested: list[Nested] = []
    needs: set[Join] = set()
    ahead: FieldNode | None = None
    ahead_needs: frozenset[Join] | None = None
    row_of: Callable[[Any], Any] = _first if paired else itself
    for key, definition, resolver, below, nodes in _selected(run, object_type, selections, keys):
        found = objects_of(definition.type)
        if resolver.function is None and resolver.field.metadata.get(ROW):
            # The object is made from the same row (an edge's node).
            if not below or found is None or found[1]:
                return None
            plan = run.inline_plan(found[0], below, rows=prefix, paired=paired)
            if plan is None or (ahead is not None and plan.ahead is not ahead):
                return None
            needs |= plan.needs
            ahead, ahead_needs = plan.ahead, plan.ahead_needs
            nested.append((key, itself, None, plan, False, found[2], False))
            continue
        if resolver.function is None:
            column = columns.get(resolver.attribute)
            if column is None or below:
                return None
            name = prefix + column
            read_column = _compose(itemgetter(name), row_of)
            leaves.append(_leaf(run, key, definition, read_column, Column(name, paired)))
            continue
        if resolver.field.metadata.get(ID_OF_PK) and "pk" in columns:
            read_id = _id_reader(object_type.name, prefix + columns["pk"])
            leaves.append(_leaf(run, key, definition, _compose(read_id, row_of), None))
            continue
        if paired:
            # The one connection read ahead: any other field needs the walk.
            connection = isinstance(relationship_of(resolver.field), Connected)
            if ahead is not None or not below or len(nodes) > 1 or prefix or not connection:
                return None
            if not _may_read_ahead(resolver) or found is None or found[1]:
                return None
            # Its pages answered as they are where only its edges are read; else its
            # connections, made from them.
            pages = run.inline_plan(found[0], below, pages=True)
            if pages is not None:
                ahead_needs = pages.needs
                nested.append((key, _second, None, pages, False, found[2], False))
            else:
                one = _one_object(run, key, definition, below, _second)
                if one is None:
                    return None
                nested.append(one)
            ahead = nodes[0]
            continue
        ride = _ride(resolver, definition)
        # A riding relation's columns come with the type's own rows, not a joined row's.
        if ride is None or prefix:
            return None
        needs.add(ride.join)
        if not below:  # a value riding in the row (an order's total)
            leaves.append(_leaf(run, key, definition, ride.read, None))
            continue
        if found is None:
            return None
        element, many, required, items_required = found
        get: Callable[[Any], Any] = ride.read
        plan = None
        if many:
            listed = _ride_list(run, ride, element, below)
            if listed is not None:
                plan, get = listed
        elif ride.prefix is not None:
            plan = run.inline_plan(element, below, rows=ride.prefix)
            if plan is not None:
                get = itself
        if plan is None:
            plan = run.inline_plan(element, below)
        if plan is None:
            return None
        needs |= plan.needs
        nested.append((key, get, None, plan, many, required, items_required))
    if paired and ahead is None:
        return None  # no connection read ahead: the plan of the rows alone answers
    return Plan(keys, leaves, nested, _fixed(keys), frozenset(needs), ahead, ahead_needs)


def plan_for_pages(
    run: Run, object_type: GraphQLObjectType, selections: tuple[SelectionSetNode, ...]
) -> Plan | None:
    """The plan for a connection field's pages read ahead with their parents (the
    `Page`s of `PagesAhead`), where all the document reads of the connection is its
    edges, answered off their rows: no connection is made. None where one must be
    (for its pageInfo, its totalCount, a cursor)."""
    keys: list[tuple[str, Any]] = []
    nested: list[Nested] = []
    needs: set[Join] = set()
    for key, definition, resolver, below, _ in _selected(run, object_type, selections, keys):
        found = objects_of(definition.type)
        if not below or not resolver.field.metadata.get(ROWS) or definition.args or not found:
            return None
        plan = run.inline_plan(found[0], below, rows="")
        if plan is None:
            return None
        needs |= plan.needs
        _, many, required, items_required = found
        nested.append((key, _page_rows, None, plan, many, required, items_required))
    return Plan(keys, [], nested, _fixed(keys), frozenset(needs))


_page_rows = attrgetter("rows")


def _on_rows(
    run: Run, element: GraphQLObjectType, below: tuple[SelectionSetNode, ...], ahead: bool
) -> tuple[Plan, Callable[[Any], Any]] | None:
    """A connection's edges answered off its page's rows, or, for a root list that
    reads ahead (`ahead`), off (row, connection) pairs where one connection field below
    the nodes was read with the page: (plan, getter of the connection's rows or pairs);
    None where objects must be made."""
    plan = run.inline_plan(element, below, rows="")
    if plan is not None:
        return plan, rows_with(plan.needs)
    if not ahead:
        return None
    plan = run.inline_plan(element, below, rows="", paired=True)
    if plan is None or plan.ahead is None:
        return None
    return plan, _pairs_with(plan.needs, plan.ahead, plan.ahead_needs)


def _may_read_ahead(resolver: Resolver) -> bool:
    """Whether a lookup may have read the field ahead with its object (`READ_AHEAD`): a
    connection, or a value made from a read of its own (a count), never one `allow`
    checks."""
    relationship = relationship_of(resolver.field)
    if isinstance(relationship, Connected):
        return relationship.allow is None
    return (
        isinstance(relationship, Related)
        and relationship.allow is None
        and relationship.ride is None
        and relationship.make is not None
    )


def _read_ahead_of(field: FieldNode) -> Callable[[Any], Any]:
    """An object's value of `field` (its one selection) read ahead with it; NotInline
    where it was not."""
    key = id(field)

    def read(made: Any) -> Any:
        found: Mapping[int, Any] | None = getattr(made, READ_AHEAD)
        if found is None or key not in found:
            raise NotInline
        return found[key]

    return read


def _one_object(
    run: Run,
    key: str,
    definition: GraphQLField,
    below: tuple[SelectionSetNode, ...],
    get: Callable[[Any], Any],
    fields: tuple[str, ...] | None = None,
) -> Nested | None:
    """The field's one object (not a list), read with `get` and answered with its own
    plan (of tuples of `fields`, if given); None where it has none."""
    found = objects_of(definition.type)
    if found is None or found[1]:
        return None
    plan = run.inline_plan(found[0], below, fields)
    return None if plan is None else (key, get, None, plan, False, found[2], False)


def _compose(read: Callable[[Any], Any], row_of: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if row_of is itself:
        return read
    return lambda value: read(row_of(value))


_first = itemgetter(0)
_second = itemgetter(1)


def _selected(
    run: Run,
    object_type: GraphQLObjectType,
    selections: tuple[SelectionSetNode, ...],
    keys: list[tuple[str, Any]],
) -> Iterator[tuple[str, GraphQLField, Resolver, tuple[SelectionSetNode, ...], list[FieldNode]]]:
    """(response key, field, resolver, selections below, its nodes) of each field
    selected, in the answer's order; `keys` gets each key, with its value where it is
    fixed (__typename)."""
    for key, nodes in run.collect(object_type, selections).items():
        name = nodes[0].name.value
        if name == "__typename":
            keys.append((key, object_type.name))
            continue
        keys.append((key, None))
        definition = object_type.fields[name]
        below = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        yield key, definition, run.resolver(object_type, definition), below, nodes


def _inner(fields: tuple[str, ...], attribute: str) -> tuple[str, ...] | None:
    """The fields of the object at `attribute` of a tuple's object, in the tuple's places
    (a place that is not one of them named ""); None when the tuple holds none."""
    prefix = attribute + "."
    inner = tuple(name.removeprefix(prefix) if name.startswith(prefix) else "" for name in fields)
    return inner if any(inner) else None


def _fixed(keys: list[tuple[str, Any]]) -> int:
    """What an object's keys add to the answer's size, beside its values' text."""
    return sum(len(key) + 8 for key, constant in keys if constant is None)


@functools.cache
def rows_with(needs: Relations) -> Callable[[Any], Sequence[DbRow]]:
    """A connection's rows, for a plan that reads the joins `needs` off them; NotInline
    (the answer is then made from objects) where the rows did not come with them."""

    def rows(connection: Any) -> Sequence[DbRow]:
        found, relations = page_rows(connection)
        if needs <= relations:
            return found
        raise NotInline

    return rows


def _pairs_with(
    needs: Relations, field: FieldNode, page_needs: Relations | None
) -> Callable[[Any], list[tuple[DbRow, Any]]]:
    """A connection's rows, each with its page of `field` read ahead with them
    (`PagesAhead`): the page as it was read, for a plan that reads its rows read with
    (at least) the joins `page_needs`, or with None the connection made from it.
    NotInline where the rows were read without those pages, or without `needs`."""

    def pairs(connection: Any) -> list[tuple[DbRow, Any]]:
        found, relations = page_rows(connection)
        ahead = pages_ahead(connection)
        if ahead is None or ahead.field is not field or not needs <= relations:
            raise NotInline
        if page_needs is not None:
            if not page_needs <= ahead.relations:
                raise NotInline
            return list(zip(found, ahead.pages, strict=True))
        connect = ahead.connect
        return [
            (row, connect(row_id(row), page)) for row, page in zip(found, ahead.pages, strict=True)
        ]

    return pairs


def _id_reader(type_name: str, column: str) -> Callable[[Any], str]:
    """A node's global ID, read off its row (Node.id)."""

    def read_id(row: Any) -> str:
        return encode_id(type_name, row[column])

    return read_id


def _ride_list(
    run: Run, ride: Ride, element: GraphQLObjectType, below: tuple[SelectionSetNode, ...]
) -> tuple[Plan, Callable[[Any], Any]] | None:
    """A riding list answered from the row's tuples when nothing else of its objects is
    read, or from one field's values alone when only that one is: (plan, reader of the
    row); None where its objects must be made."""
    if ride.values is None:
        return None
    plan = run.inline_plan(element, below, ride.fields)
    if plan is None:
        return None
    read_only = {leaf[2] for leaf in plan.leaves}
    [only] = read_only if len(read_only) == 1 else [None]
    if isinstance(only, int) and ride.columns:
        alone = run.inline_plan(element, below, (ride.fields[only],))
        if alone is not None:
            return alone, ride.columns[only]
    return plan, ride.values


def _leaf(
    run: Run,
    key: str,
    definition: GraphQLField,
    get: Callable[[Any], Any],
    attribute: str | int | Column | None,
) -> Leaf:
    field_type = definition.type
    complete = run.path.leaf_completer(field_type)
    return (key, get, attribute, _plain_type(field_type), complete, is_text(field_type))


def _ride(resolver: Resolver, definition: GraphQLField) -> Ride | None:
    """The field's riding relation, if it is one an inline plan may read."""
    if definition.args:
        return None
    relationship = relationship_of(resolver.field)
    if not isinstance(relationship, Related) or relationship.allow:
        return None
    return relationship.ride


def _reader(
    resolver: Resolver, definition: GraphQLField
) -> tuple[Callable[[Any], Any], Ride | None] | None:
    """How one object's value of the field is read without waiting: (a function of the
    object, None), or for a relation riding in the object's row (a function of the
    row, its `Ride`); None if it cannot be."""
    function = resolver.function
    if function is None:
        return attrgetter(resolver.attribute), None
    if definition.args:
        return None
    if relationship_of(resolver.field) is not None:
        ride = _ride(resolver, definition)
        return None if ride is None else (ride.read, ride)
    if resolver.wants_info or resolver.batched is not None or _waits(function):
        return None
    return function, None


def _waits(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _plain_type(field_type: GraphQLOutputType) -> type:
    """The Python type a leaf's values are answered as they are (str for a String)."""
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLScalarType):
        return SCALAR_PASS_THROUGH.get(inner.name, _Never)
    return _Never
