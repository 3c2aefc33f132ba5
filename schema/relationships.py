"""Relationships, each declared once beside its type as one field.

A declaration names the field's arguments (the parameters of a function that
turns them into the read's keyword arguments), the batch read in db/ that
answers every parent of a level in one statement, and, where the relation can
ride along in its parent's statement, how (a db/ `Join`, and how to read the
value from the parent's row). Everything else is derived from it:

- the Strawberry field and its per-object resolver (the read's DataLoader
  still batches across objects);
- the batch form the lean executor calls once per level (schema/batching.py);
- the per-request loader (`Loaders.of`, one per read and arguments);
- the lookahead: `joins_below(info, cls, *path)` says which of `cls`'s
  relations the document reads, for the statement that fetches `cls`'s rows.

The field's type is its class annotation, as in Strawberry's own
`name: Type = strawberry.field(resolver=...)` (lazy where types refer to each
other); objects are made from rows with the type's `from_row`. README, "Adding
a field", walks through one.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any, get_args

import strawberry
from graphql import BooleanValueNode, FieldNode, IntValueNode, StringValueNode, VariableNode
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.utils.str_converters import to_camel_case

from db.paging import Ordering, Page, PageRequest
from db.relations import NO_RELATIONS, Join, Relations, masks, unread_under
from db.rows import DbRow, row_id
from schema.batching import batched_field
from schema.context import Info
from schema.executor.compat import graphql_info
from schema.loaders import Loaders, takes
from schema.lookahead import only_child, selected
from schema.pagination import EDGE_NODE, Connection, PagesAhead, connection_of

RELATIONSHIP = "storefront.relationship"
# The attribute of an object that holds what its lookup read ahead for its fields, by
# the id of each field's one selection (a user's first page of posts and its count,
# read with the user), or None: an answer built off the object reads them there
# (schema/executor/planning.py). A type that may carry them declares it as a private
# field; anything else reads such a field as usual, from its primed loader.
READ_AHEAD = "_ahead"
ReadAhead = dict[int, Any]
# The metadata of a root field whose lookup reads ahead for its objects' fields.
READS_AHEAD = "storefront.reads_ahead"
# The field metadata key of a column the statement may leave out (`column_unless_read`).
UNREAD = "storefront.unread"
_MISSING: Any = object()

Read = Callable[..., Awaitable[Sequence[Any]]]
Allow = Callable[[Sequence[Any], Info], None]


@dataclass(frozen=True, slots=True)
class Ride:
    """How a relation comes in its parent's own statement: the `join` adds its columns
    to the parent's rows, `read` makes the field's value from such a row.

    A list of plain objects may also say how to read it as tuples: `values(row)` gives
    one tuple per object, holding its attributes `fields` in that order (what `read`
    makes its objects from), those of an object made from the same tuple named
    `<attribute>.<field>` (an order item's `product.name`). An answer that reads nothing
    else of them is then built from the tuples, without making the objects
    (schema/executor/inline.py).
    """

    join: Join
    read: Callable[[DbRow], Any]
    values: Callable[[DbRow], Sequence[tuple[Any, ...]]] | None = None
    fields: tuple[str, ...] = ()
    # Each of `fields` alone, as `columns[i](row)` gives its values in the same order:
    # an answer reading only that one (a post's tags' names) is built from them.
    columns: tuple[Callable[[DbRow], Sequence[Any]], ...] = ()
    # When the joined columns are a row of the related type's table, named
    # `<prefix><column>`: its fields declared with `column_unless_read` leave their
    # columns out under the prefix too, where the document reads the relation but not
    # the field.
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """What a list's arguments ask for: a page, its order, and the read's filters."""

    request: PageRequest
    ordering: Ordering
    filters: Mapping[str, Hashable] = field(default_factory=dict)


class Relationship:
    """One declared relationship; `batch` answers a whole level of parents."""

    ride: Ride | None = None

    def __init__(self, arguments: Callable[..., Any] | None, allow: Allow | None) -> None:
        self.arguments = arguments
        self.allow = allow
        self.field: StrawberryField

    async def batch(self, parents: Sequence[Any], info: Info, **arguments: Any) -> list[Any]:
        raise NotImplementedError

    @functools.cached_property
    def element(self) -> type:
        """The class of the objects this field returns (its type with lists and
        nullability taken off; known once the schema has resolved lazy types)."""
        return _element(self.field.type)

    def as_field(self, description: str | None, longest: int | None = None) -> Any:
        """The Strawberry field, resolved by `batch`."""
        self.field = batched_field(
            self.batch,
            arguments=self.arguments,
            description=description,
            longest=longest,
            metadata={RELATIONSHIP: self},
        )
        return self.field

    def _read_arguments(self, arguments: Mapping[str, Any]) -> Any:
        return self.arguments(**arguments) if self.arguments is not None else {}


class Related(Relationship):
    """A value per parent from a batch read keyed by one of the parent's attributes."""

    def __init__(
        self,
        read: Read,
        *,
        key: str,
        make: Callable[[Any], Any] | None,
        arguments: Callable[..., Mapping[str, Hashable]] | None,
        ride: Ride | None,
        allow: Allow | None,
    ) -> None:
        super().__init__(arguments, allow)
        self.read, self.key, self.make, self.ride = read, attrgetter(key), make, ride
        self.relations_too = takes(read, "relations")

    async def batch(self, parents: Sequence[Any], info: Info, **arguments: Any) -> list[Any]:
        if self.allow is not None:
            self.allow(parents, info)
        values = [_MISSING] * len(parents)
        if self.ride is not None:
            join, read = self.ride.join, self.ride.read
            if not [p for p in parents if join not in p.joins]:  # the usual case: all rode
                return [read(p.row) for p in parents]
            values = [read(p.row) if join in p.joins else _MISSING for p in parents]
        kwargs = dict(self._read_arguments(arguments))
        make = self.make
        if make is None:
            relations = joins_below(info, self.element) if self.relations_too else NO_RELATIONS
            if self.relations_too:
                kwargs["relations"] = relations
            make = _each(node_maker(self.element, relations))
        keys = [self.key(p) for p, value in zip(parents, values, strict=True) if value is _MISSING]
        loaded = iter(await info.context.loaders.of(self.read, **kwargs).load_many(keys))
        return [make(next(loaded)) if value is _MISSING else value for value in values]


class Connected(Relationship):
    """A Relay connection per parent: one page each from `pages`, `totalCount` from `count`."""

    def __init__(
        self,
        pages: Callable[..., Awaitable[Any]],
        count: Callable[..., Awaitable[Any]],
        *,
        arguments: Callable[..., Listing],
        allow: Allow | None,
    ) -> None:
        super().__init__(arguments, allow)
        self.pages, self.count = pages, count

    @functools.cached_property
    def node(self) -> type:
        """The connection's node class: `PostConnection(Connection[Post])` gives Post."""
        [base] = [b for b in getattr(self.element, "__orig_bases__", ()) if get_args(b)]
        node: type = get_args(base)[0]
        return node

    async def batch(self, parents: Sequence[Any], info: Info, **arguments: Any) -> list[Any]:
        if self.allow is not None:
            self.allow(parents, info)
        listing: Listing = self._read_arguments(arguments)
        relations = joins_below(info, self.node, *EDGE_NODE)
        loaders = info.context.loaders
        keys = [parent.pk for parent in parents]
        pages = await self.loader(loaders, listing, relations).load_many(keys)
        connect = self.connector(loaders, listing, relations)
        return [connect(key, page) for key, page in zip(keys, pages, strict=True)]

    def connector(
        self, loaders: Loaders, listing: Listing, relations: Relations
    ) -> Callable[[int, Page], Connection[Any]]:
        """How a parent's page, by the parent's key, becomes its connection (counting
        through the request's loader when asked)."""
        make = node_maker(self.node, relations)
        element, ordering, read_count, filters = (
            self.element,
            listing.ordering,
            self.count,
            listing.filters,
        )

        def count(parent_pk: int) -> Awaitable[int]:  # its loader made when asked
            return loaders.of(read_count, **filters).load(parent_pk)

        def connect(parent_pk: int, page: Page) -> Connection[Any]:
            return connection_of(
                element, page, ordering, make, partial(count, parent_pk), relations
            )

        return connect

    def loader(self, loaders: Loaders, listing: Listing, relations: Relations) -> Any:
        """The request's loader of pages for `listing`, by parent key; a parent's page
        read ahead with its parent is primed into it (`page_ahead`)."""
        return loaders.of(self.pages, **self._loader_arguments(listing, relations))

    def prime(
        self,
        loaders: Loaders,
        listing: Listing,
        relations: Relations,
        pages: Iterable[tuple[int, Page]],
    ) -> None:
        """Pages read ahead with their parents, by parent key, for `loader`'s keys."""
        loaders.prime(self.pages, pages, **self._loader_arguments(listing, relations))

    @staticmethod
    def _loader_arguments(listing: Listing, relations: Relations) -> dict[str, Any]:
        return {
            "request": listing.request,
            "ordering": listing.ordering,
            "relations": relations,
            **listing.filters,
        }


@dataclass(frozen=True, slots=True)
class PageAhead:
    """The page a connection field below will ask its loader for, read ahead of it."""

    connection: Connected
    listing: Listing
    relations: Relations
    node: FieldNode  # the field's one selection, which these are the arguments of

    def prime(self, loaders: Loaders, pages: Iterable[tuple[int, Page]]) -> None:
        """Hand each (parent's key, page), read with its parent, to the loader the
        field will ask, if it ever asks (Loaders.prime)."""
        self.connection.prime(loaders, self.listing, self.relations, pages)


def page_ahead(info: Info, cls: type, name: str, *path: str) -> PageAhead | None:
    """What `cls`'s connection field `name`, selected once on the objects this field
    returns (or on those at `path` below them: a list's `edges`, `node`), will ask for,
    so that a lookup can read it in its own statement and prime its loader. None when
    that cannot be known ahead with certainty: the field is absent, selected twice or
    under a directive, is checked by `allow`, or takes an argument other than a scalar
    written out or a variable. The field's own batch then reads it as usual, and
    reports any problem with its arguments.
    """
    found = _ahead(info, cls, name, Connected, *path)
    if found is None:
        return None
    connection, listing, node = found
    assert isinstance(connection, Connected)
    relations = joins_below(info, connection.node, *path, name, *EDGE_NODE)
    return PageAhead(connection, listing, relations, node)


@dataclass(frozen=True, slots=True)
class ValueAhead:
    """The arguments a related field below will read its value with, known ahead."""

    related: Related
    arguments: Mapping[str, Hashable]
    node: FieldNode  # the field's one selection

    def prime(self, loaders: Loaders, parent_key: Any, value: Any) -> None:
        """Hand `value`, read with its parent, to the loader the field will ask."""
        loaders.prime(self.related.read, [(parent_key, value)], **self.arguments)


def value_ahead(info: Info, cls: type, name: str) -> ValueAhead | None:
    """`page_ahead` for a related field that reads a value (a count), not a page."""
    found = _ahead(info, cls, name, Related)
    if found is None:
        return None
    related, arguments, node = found
    assert isinstance(related, Related)
    if related.ride is not None or related.make is None:
        return None  # it rides already, or makes objects (and joins below them)
    return ValueAhead(related, arguments, node)


def _ahead(
    info: Info, cls: type, name: str, kind: type[Relationship], *path: str
) -> tuple[Relationship, Any, FieldNode] | None:
    """The `kind` relationship behind `cls`'s field `name`, selected once below this
    field (at `path`), what its arguments read as, if they can be read ahead
    (`page_ahead`), and that selection."""
    node = only_child(info, name, *path)
    if node is None:
        return None
    found = _field_of(cls, name)
    if found is None or not isinstance(found[0], kind):
        return None
    relationship, arguments = found
    given: dict[str, Any] = {}
    variables = graphql_info(info).variable_values
    for argument in node.arguments or ():
        python_name = arguments.get(argument.name.value)
        value = argument.value
        if python_name is None:
            return None
        if isinstance(value, VariableNode):
            if value.name.value in variables:
                given[python_name] = variables[value.name.value]
        elif isinstance(value, IntValueNode):
            given[python_name] = int(value.value)
        elif isinstance(value, StringValueNode | BooleanValueNode):
            given[python_name] = value.value
        else:
            return None
    try:
        return relationship, relationship._read_arguments(given), node
    except Exception:  # bad arguments: the field reports them where they are
        return None


@functools.cache
def _field_of(cls: type, name: str) -> tuple[Relationship, dict[str, str]] | None:
    """The relationship behind `cls`'s field `name` (by GraphQL name), unless `allow`
    checks it, and the Python name of each of its arguments that takes a plain scalar,
    by GraphQL name."""
    strawberry_field = _fields(cls).get(name)
    relationship = None if strawberry_field is None else relationship_of(strawberry_field)
    if strawberry_field is None or relationship is None or relationship.allow is not None:
        return None
    plain = {}
    for argument in strawberry_field.arguments:
        kind = argument.type
        if isinstance(kind, StrawberryOptional):
            kind = kind.of_type
        if kind in (int, str, bool):
            plain[_graphql_name(argument)] = argument.python_name
    return relationship, plain


@dataclass(frozen=True, slots=True)
class ListAhead:
    """A root list's read that also brings its nodes' first page of their connection
    field `field`: `read(conn, request, below, *, ordering, below_ordering, access,
    relations, parent_relations, **filters)` gives the list's page (as its `pages` would
    with `parent_relations`, which only send columns as NULL) and each node's
    page of the field (as the field's own loader would for `below`, `below_ordering`
    and the field's filters), in one statement."""

    field: str
    read: Callable[..., Awaitable[tuple[Page, list[Page]]]]


class Listed(Connected):
    """A root list (a field of Query): one page from `pages`, `totalCount` from `count`,
    each called with the viewer's `access` and the joined `relations` if it takes them.
    With `ahead`, a page below its nodes that can be known ahead comes in the list's
    own statement (the bench's c: 20 users and 5 posts each, one statement)."""

    def __init__(self, *args: Any, ahead: ListAhead | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ahead = ahead

    async def batch(self, parents: Sequence[Any], info: Info, **arguments: Any) -> list[Any]:
        if self.allow is not None:
            self.allow(parents, info)
        listing: Listing = self._read_arguments(arguments)
        loaders, filters = info.context.loaders, dict(listing.filters)
        if takes(self.pages, "access"):
            filters["access"] = loaders.access
        relations = NO_RELATIONS
        page_filters = filters
        if takes(self.pages, "relations"):
            relations = joins_below(info, self.node, *EDGE_NODE)
            page_filters = {**filters, "relations": relations}
        # The read ahead joins nothing to the list's own rows, but sends the same NULLs.
        read_ahead = None
        if not masks(relations)[0]:
            read_ahead = await self._read_ahead(listing, info, relations)
        ahead: PagesAhead | None = None
        if read_ahead is not None:
            found, ahead = read_ahead
        else:
            found = await loaders.read(
                self.pages, listing.request, ordering=listing.ordering, **page_filters
            )
        count = partial(loaders.read, self.count, **filters)
        made: Any = connection_of(
            self.element,
            found,
            listing.ordering,
            node_maker(self.node, relations),
            count,
            relations,
            ahead,
        )
        return [made for _ in parents]

    async def _read_ahead(
        self, listing: Listing, info: Info, relations: Relations
    ) -> tuple[Page, PagesAhead] | None:
        """The list's page read with its nodes' pages of `ahead.field` (primed into the
        field's loader, and kept for an answer read off the rows); None when they cannot
        be known ahead, or start at a cursor (every node's page would)."""
        if self.ahead is None:
            return None
        below = page_ahead(info, self.node, self.ahead.field, *EDGE_NODE)
        if below is None or below.listing.request.after or below.listing.request.before:
            return None
        loaders = info.context.loaders
        found, pages = await loaders.read(
            self.ahead.read,
            listing.request,
            below.listing.request,
            ordering=listing.ordering,
            below_ordering=below.listing.ordering,
            access=loaders.access,
            relations=below.relations,
            parent_relations=relations,
            **listing.filters,
            **below.listing.filters,
        )
        # Primed: any field with the same arguments may ask for them, whichever executor
        # answers it and in whatever order (viewer { posts } beside the list).
        below.prime(loaders, zip(map(row_id, found.rows), pages, strict=True))
        connect = below.connection.connector(loaders, below.listing, below.relations)
        return found, PagesAhead(below.node, pages, connect, below.relations)


def reads_ahead(field: StrawberryField) -> bool:
    """Whether the field's resolver reads ahead what its objects' fields will ask: a
    lookup keeping it on the object (`READ_AHEAD`), or a root list keeping its nodes'
    pages on its connection (`PagesAhead`)."""
    if field.metadata.get(READS_AHEAD):
        return True
    relationship = relationship_of(field)
    return isinstance(relationship, Listed) and relationship.ahead is not None


def root_list(
    page: Callable[..., Awaitable[Page]],
    count: Callable[..., Awaitable[int]],
    *,
    arguments: Callable[..., Listing],
    allow: Allow | None = None,
    ahead: ListAhead | None = None,
    description: str | None = None,
) -> Any:
    """A field of Query listing one table: `arguments(...)` as for `connection`;
    `page(conn, request, ordering=, **filters)` gives the page, `count(conn, **filters)`
    the `totalCount`, only when asked for; `ahead` as `Listed` says."""
    return Listed(page, count, arguments=arguments, allow=allow, ahead=ahead).as_field(description)


def related(
    read: Read,
    *,
    key: str = "pk",
    make: Callable[[Any], Any] | None = None,
    arguments: Callable[..., Mapping[str, Hashable]] | None = None,
    ride: Ride | None = None,
    allow: Allow | None = None,
    description: str | None = None,
    longest: int | None = None,
) -> Any:
    """A field whose value per parent comes from `read(conn, keys, **arguments(...))`,
    keyed by the parent's `key` attribute; `read` answers one result per key.

    Results become the field's type with its `from_row` (a row, None or a list of
    rows), or with `make` (`as_read` for a scalar field). With `ride`, a parent
    fetched with `ride.join` already holds its value. `allow(parents, info)` raises
    to refuse the whole level. A list says how `longest` it can be (the cost model's
    bound; a `first` argument narrows it).
    """
    relationship = Related(read, key=key, make=make, arguments=arguments, ride=ride, allow=allow)
    return relationship.as_field(description, longest)


def connection(
    pages: Read,
    count: Read,
    *,
    arguments: Callable[..., Listing],
    allow: Allow | None = None,
    description: str | None = None,
) -> Any:
    """A connection field: `arguments(...)` (whose parameters are the field's) gives the
    page, ordering and filters; `pages(conn, parent_pks, request=, ordering=,
    relations=, **filters)` gives each parent's page, `count(conn, parent_pks,
    **filters)` each `totalCount`."""
    return Connected(pages, count, arguments=arguments, allow=allow).as_field(description)


def relationship_of(field: StrawberryField) -> Relationship | None:
    """The declaration behind a field, if it is a relationship (the lean executor's seam)."""
    found: Relationship | None = field.metadata.get(RELATIONSHIP)
    return found


@functools.cache
def _rides(cls: type) -> tuple[tuple[str, Relationship, Ride], ...]:
    """(GraphQL name, relationship, ride) of each of `cls`'s fields that can ride along."""
    rides = []
    for graphql_name, strawberry_field in _fields(cls).items():
        relationship = relationship_of(strawberry_field)
        if relationship is not None and relationship.ride is not None:
            rides.append((graphql_name, relationship, relationship.ride))
    return tuple(rides)


@functools.cache
def _fields(cls: type) -> dict[str, StrawberryField]:
    """`cls`'s fields by GraphQL name."""
    fields = cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
    return {_graphql_name(field): field for field in fields}


def _graphql_name(field: StrawberryField | StrawberryArgument) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


@functools.cache
def _unread(cls: type) -> tuple[tuple[str, Join, bool], ...]:
    """(GraphQL name, join, whether it is a cursor's key) of each of `cls`'s fields
    declared with `column_unless_read`."""
    return tuple(
        (graphql_name, *found)
        for graphql_name, strawberry_field in _fields(cls).items()
        if (found := strawberry_field.metadata.get(UNREAD)) is not None
    )


def column_unless_read(join: Join, *, cursor_key: bool = False) -> Any:
    """A plain field whose column the statement sends as NULL (`join`, made with
    db.relations.unread) when the document does not read the field: the field's value
    is the column's, and nothing else reads it. With `cursor_key`, the rows may be
    ordered by it, and a page of them keeps it wherever the document reads a cursor."""
    return strawberry.field(metadata={UNREAD: (join, cursor_key)})


def joins_below(info: Info, cls: type, *path: str) -> Relations:
    """The joins for the relations of `cls` that the document reads at `path` below
    the current field (schema/lookahead.py), and for the columns it does not read;
    kept for the document's next runs, as `selected` keeps what it reads."""
    memo: dict[Any, Any] | None = getattr(info, "memo", None)
    if memo is None:
        return _joins_below(info, cls, path)
    key = ("joins", cls, *map(id, graphql_info(info).field_nodes), *path)
    found: Relations | None = memo.get(key)
    if found is None:
        found = memo[key] = _joins_below(info, cls, path)
    return found


def _joins_below(info: Info, cls: type, path: tuple[str, ...]) -> Relations:
    rides, unread = _rides(cls), _unread(cls)
    if not rides and not unread:
        return NO_RELATIONS
    fields = selected(info, *path)
    keyed = path[-2:] == EDGE_NODE and _reads_cursors(info, *path[:-2])
    joins = [
        join
        for graphql_name, join, cursor_key in unread
        if graphql_name not in fields and not (cursor_key and keyed)
    ]
    for graphql_name, relationship, ride in rides:
        if graphql_name in fields:
            joins.append(ride.join)
            if ride.prefix is not None:
                below = selected(info, *path, graphql_name)
                joins += [
                    unread_under(join, ride.prefix)
                    for name, join, _ in _unread(relationship.element)
                    if name not in below
                ]
    return frozenset(joins)


def _reads_cursors(info: Info, *connection: str) -> bool:
    """Whether the document reads a cursor of the connection at `connection`: they are
    made from the key columns of the rows (db.paging.Ordering.key_of)."""
    return "cursor" in selected(info, *connection, "edges") or not _CURSORS.isdisjoint(
        selected(info, *connection, "pageInfo")
    )


_CURSORS = frozenset(("startCursor", "endCursor"))


def node_maker(cls: Any, relations: Relations) -> Callable[[DbRow], Any]:
    """`cls.from_row`, which for rows fetched with `relations` also keeps the row and
    `relations` on the object: each riding relationship reads its value from the row
    when it is resolved (`Ride.read`), with no statement."""
    from_row: Callable[[DbRow], Any] = cls.from_row
    if not relations:
        return from_row

    def make(row: DbRow) -> Any:
        made = from_row(row)
        made.row, made.joins = row, relations
        return made

    return make


def as_read(result: Any) -> Any:
    """`make` for a field that takes its read's results as they are (counts, sums)."""
    return result


def _each(make: Callable[[DbRow], Any]) -> Callable[[Any], Any]:
    """`make` for a read's result: a row, None (no row for the key), or a list of rows."""

    def made(result: Any) -> Any:
        if result is None:
            return None
        if isinstance(result, list):
            return [make(row) for row in result]
        return make(result)

    return made


def _element(field_type: Any) -> type:
    while isinstance(field_type, StrawberryList | StrawberryOptional | LazyType):
        if isinstance(field_type, LazyType):
            field_type = field_type.resolve_type()
        else:
            field_type = field_type.of_type
    if not isinstance(field_type, type):
        raise TypeError(f"a relationship returns objects of one class, not {field_type!r}")
    return field_type
