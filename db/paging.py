"""Keyset pages: orderings, page requests, and one statement for many parents' pages.

Every ordering is total (its last column is the primary key) and runs in one
direction, so a row-value comparison `(a, id) > (:a, :id)` finds the rows after a
cursor with an index scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    FromClause,
    Row,
    Select,
    any_,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import bindparam

KeyValue = datetime | str | int
# A result row of any width (SQLAlchemy 2.1 types rows by their columns).
DbRow: TypeAlias = Row[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Ordering:
    """A total order over a table's rows: the sort columns (the key last) and a direction."""

    name: str
    columns: tuple[Column[Any], ...]
    descending: bool = False

    def key_of(self, row: DbRow) -> tuple[KeyValue, ...]:
        mapping = row._mapping
        return tuple(mapping[column.key] for column in self.columns)

    def order_by(
        self, *, reverse: bool = False, on: FromClause | None = None
    ) -> list[ColumnElement[Any]]:
        """ORDER BY terms, on the ordering's own columns or on `on`'s columns of the same names."""
        descending = self.descending != reverse
        columns = self.columns if on is None else tuple(on.c[c.key] for c in self.columns)
        return [column.desc() if descending else column.asc() for column in columns]

    def after(self, key: Sequence[KeyValue]) -> ColumnElement[bool]:
        """Rows strictly after `key` in this ordering."""
        left, right = tuple_(*self.columns), tuple_(*key)
        return left < right if self.descending else left > right

    def before(self, key: Sequence[KeyValue]) -> ColumnElement[bool]:
        left, right = tuple_(*self.columns), tuple_(*key)
        return left > right if self.descending else left < right


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first`/`after` forward, or `last`/`before` backward; keys already decoded."""

    limit: int
    backward: bool = False
    after: tuple[KeyValue, ...] | None = None
    before: tuple[KeyValue, ...] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[DbRow]
    has_next: bool
    has_previous: bool


EMPTY_PAGE = Page(rows=[], has_next=False, has_previous=False)


def page_query(stmt: Select[Any], ordering: Ordering, request: PageRequest) -> Select[Any]:
    """Restrict, order and limit `stmt` to one page (plus one row, to tell if there is more)."""
    if request.after is not None:
        stmt = stmt.where(ordering.after(request.after))
    if request.before is not None:
        stmt = stmt.where(ordering.before(request.before))
    return stmt.order_by(*ordering.order_by(reverse=request.backward)).limit(request.limit + 1)


def to_page(rows: Sequence[DbRow], request: PageRequest) -> Page:
    more = len(rows) > request.limit
    kept = list(rows[: request.limit])
    if request.backward:
        kept.reverse()
        return Page(kept, has_next=request.before is not None, has_previous=more)
    return Page(kept, has_next=more, has_previous=request.after is not None)


async def fetch_page(
    conn: AsyncConnection, stmt: Select[Any], ordering: Ordering, request: PageRequest
) -> Page:
    rows = (await conn.execute(page_query(stmt, ordering, request))).all()
    return to_page(rows, request)


def any_id(column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """`column = ANY(:ids)`: one prepared statement for every batch size (an IN list is not)."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))


def parent_ids(ids: Sequence[int]) -> Any:
    """`unnest(:ids) AS parent(id)`: a batch's parents, one bound array whatever their number."""
    return (
        func.unnest(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
        .table_valued("id", with_ordinality="ord")
        .render_derived(name="parent")
    )


async def fetch_pages_by_parent(
    conn: AsyncConnection,
    parent_keys: Sequence[int],
    page_for_parent: Any,
    ordering: Ordering,
    request: PageRequest,
) -> list[Page]:
    """Every parent's own page in one statement: a LATERAL page per parent.

    `page_for_parent(parent_id_column)` returns the per-parent SELECT (unordered,
    unlimited); each parent gets its own `limit + 1` rows and its own cursors.
    """
    if not parent_keys:
        return []
    parent = parent_ids(parent_keys)
    inner = page_query(page_for_parent(parent.c.id), ordering, request).lateral("page")
    stmt = (
        select(parent.c.id.label("parent_id"), inner)
        .select_from(parent)
        .join(inner, literal_column("true"))
        .order_by(parent.c.ord, *ordering.order_by(reverse=request.backward, on=inner))
    )
    rows = (await conn.execute(stmt)).all()
    grouped: dict[int, list[DbRow]] = {}
    for row in rows:
        grouped.setdefault(row.parent_id, []).append(row)
    return [to_page(grouped.get(key, []), request) for key in parent_keys]
