"""Relay connections: page arguments, keyset cursors, and the connection types."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
import strawberry
from graphql import FieldNode

from db.paging import KeyValue, Ordering, Page, PageRequest
from db.relations import NO_RELATIONS, Relations
from db.rows import DbRow
from schema.batching import batched_field
from schema.construct import constructor
from schema.context import Info
from schema.errors import BadUserInput

if TYPE_CHECKING:
    pass

MAX_PAGE = 100
DEFAULT_PAGE = 10

T = TypeVar("T")


def encode_cursor(ordering: Ordering, key: tuple[KeyValue, ...]) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(orjson.dumps([ordering.name, *values])).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: Ordering, argument: str) -> tuple[KeyValue, ...]:
    """The keyset values of a cursor made for `ordering`, or BAD_USER_INPUT naming `argument`."""
    problem = BadUserInput(f"`{argument}` is not a valid cursor for this list", argument=argument)
    if len(cursor) > 512:
        raise problem
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise problem from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != len(ordering.columns) + 1
        or decoded[0] != ordering.name
    ):
        raise problem
    values: list[KeyValue] = []
    for column, value in zip(ordering.columns, decoded[1:], strict=True):
        python_type = column.type.python_type
        try:
            if python_type is datetime and isinstance(value, str):
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError
                parsed.astimezone(UTC)  # OverflowError beyond the years 1..9999 in UTC
                values.append(parsed)
            elif (
                python_type is int
                and isinstance(value, int)
                and not isinstance(value, bool)
                and -(2**63) <= value < 2**63
            ) or (python_type is str and isinstance(value, str) and "\x00" not in value):
                values.append(value)
            else:
                raise ValueError
        except (ValueError, OverflowError):
            raise problem from None
    return tuple(values)


def page_request(
    ordering: Ordering,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """Check the Relay arguments (API.md: 0..100, not both first and last, first 10 by default)."""
    if first is not None and last is not None:
        raise BadUserInput("Give `first` or `last`, not both", argument="last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise BadUserInput(f"`{name}` must be between 0 and {MAX_PAGE}", argument=name)
    after_key = decode_cursor(after, ordering, "after") if after is not None else None
    before_key = decode_cursor(before, ordering, "before") if before is not None else None
    if last is not None:
        return PageRequest(limit=last, backward=True, after=after_key, before=before_key)
    limit = DEFAULT_PAGE if first is None else first
    return PageRequest(limit=limit, after=after_key, before=before_key)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    _ordering: strawberry.Private[Ordering]
    _first: strawberry.Private[DbRow | None]
    _last: strawberry.Private[DbRow | None]

    @strawberry.field
    def start_cursor(self) -> str | None:
        return (
            None
            if self._first is None
            else encode_cursor(self._ordering, self._ordering.key_of(self._first))
        )

    @strawberry.field
    def end_cursor(self) -> str | None:
        return (
            None
            if self._last is None
            else encode_cursor(self._ordering, self._ordering.key_of(self._last))
        )


_new_page_info = constructor(PageInfo)


# Field metadata for answers read straight off a page's rows (schema/executor/planning.py):
# the field's objects are the connection's rows (`Connection.edges`, a list), or its
# object is the row itself (`Edge.node`).
ROWS = "storefront.rows"
ROW = "storefront.row"


@strawberry.type
class Edge(Generic[T]):
    node: T = strawberry.field(metadata={ROW: True})
    _ordering: strawberry.Private[Ordering]
    _row: strawberry.Private[DbRow]

    @strawberry.field
    def cursor(self) -> str:
        # Encoded only when asked for: most clients read pageInfo.endCursor alone.
        return encode_cursor(self._ordering, self._ordering.key_of(self._row))


_new_edge = constructor(Edge)


async def _total_counts(connections: Sequence[Connection[Any]], info: Info) -> list[int]:
    # Counted only when the query asks: a grouped count for all parents at once.
    return list(await asyncio.gather(*(c._count() for c in connections)))


def _edges(root: Connection[Any]) -> list[Edge[Any]]:
    # Made when asked: an answer built inline from the rows needs no edge or node.
    ordering, make = root._ordering, root._make_node
    return [_new_edge(node=make(row), _ordering=ordering, _row=row) for row in root._rows]


@dataclass(frozen=True, slots=True)
class PagesAhead:
    """The pages of one connection field below a page's nodes, read in the page's own
    statement (a root list's `ahead`): `field` is the field's one selection, `pages` one
    per row, read with the joins `relations`, and `connect(pk, page)` makes the
    connection of the node with key `pk`."""

    field: FieldNode
    pages: Sequence[Page]
    connect: Callable[[int, Page], Connection[Any]]
    relations: Relations


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(resolver=_edges, metadata={ROWS: True})
    page_info: PageInfo
    _rows: strawberry.Private[Sequence[DbRow]]
    _make_node: strawberry.Private[Callable[[DbRow], Any]]
    _ordering: strawberry.Private[Ordering]
    # The joins the rows came with: what an answer read straight off the rows may read
    # of them (`ROWS`).
    _relations: strawberry.Private[Relations]
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    total_count: int = batched_field(_total_counts)
    # What was read ahead for a field below the nodes: an answer read straight off the
    # rows may answer that field from it.
    _pages_ahead: strawberry.Private[PagesAhead | None]


C = TypeVar("C", bound=Connection[Any])

# Where a connection's objects are selected (for schema/lookahead.py).
EDGE_NODE = ("edges", "node")


def page_rows(connection: Connection[Any]) -> tuple[Sequence[DbRow], Relations]:
    """The rows a connection's nodes are made from, and the joins they came with."""
    return connection._rows, connection._relations


_CONSTRUCTORS: dict[type, Callable[..., Any]] = {}


def _new_connection(cls: type[C]) -> Callable[..., C]:
    made = _CONSTRUCTORS.get(cls)
    if made is None:
        made = _CONSTRUCTORS[cls] = constructor(cls)
    return made


def pages_ahead(connection: Connection[Any]) -> PagesAhead | None:
    """The pages read ahead for a field below the connection's nodes, if any."""
    return connection._pages_ahead


def connection_of(
    cls: type[C],
    page: Page,
    ordering: Ordering,
    make_node: Callable[[DbRow], Any],
    count: Callable[[], Awaitable[int]],
    relations: Relations = NO_RELATIONS,
    ahead: PagesAhead | None = None,
) -> C:
    """`page` as a connection of `cls`, its nodes made by `make_node` from rows fetched
    with `relations`, with the pages read `ahead` for a field below them, if any."""
    rows = page.rows
    return _new_connection(cls)(
        _rows=rows,
        _make_node=make_node,
        _ordering=ordering,
        _relations=relations,
        page_info=_new_page_info(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            _ordering=ordering,
            _first=rows[0] if rows else None,
            _last=rows[-1] if rows else None,
        ),
        _count=count,
        _pages_ahead=ahead,
    )
