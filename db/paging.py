"""Keyset pages: orderings, page requests, and one statement for many parents' pages.

Every ordering is total (its last column is the primary key) and runs in one
direction, so a row-value comparison `(a, id) > (:a, :id)` finds the rows after a
cursor with an index scan.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeAlias

import asyncpg
from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    ColumnElement,
    FromClause,
    Select,
    any_,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import bindparam

from db.relations import NO_RELATIONS, Extend, Relations, extend, join_all, masks, unread_in
from db.rows import DbRow, Row, all_per_key
from db.statements import Statement, fetch, shaped

KeyValue = datetime | str | int
PageFor: TypeAlias = Callable[[ColumnElement[int]], Select[Any]]


@dataclass(frozen=True, slots=True)
class Ordering:
    """A total order over a table's rows: the sort columns (the key last) and a direction."""

    name: str
    columns: tuple[Column[Any], ...]
    descending: bool = False

    def key_of(self, row: DbRow) -> tuple[KeyValue, ...]:
        return tuple(getattr(row, column.key) for column in self.columns)

    def order_by(
        self, *, reverse: bool = False, on: FromClause | Sequence[ColumnElement[Any]] | None = None
    ) -> list[ColumnElement[Any]]:
        """ORDER BY terms, on the ordering's own columns, on `on`'s columns of the same
        names, or on the columns `on` (one per ordering column, in order)."""
        descending = self.descending != reverse
        if on is None:
            columns: Sequence[ColumnElement[Any]] = self.columns
        elif isinstance(on, FromClause):
            columns = tuple(on.c[c.key] for c in self.columns)
        else:
            columns = on
        return [column.desc() if descending else column.asc() for column in columns]

    def after(self) -> ColumnElement[bool]:
        """Rows strictly after the key bound as `:after_0`, `:after_1`, ..."""
        left, right = tuple_(*self.columns), tuple_(*self._key("after"))
        return left < right if self.descending else left > right

    def before(self) -> ColumnElement[bool]:
        left, right = tuple_(*self.columns), tuple_(*self._key("before"))
        return left > right if self.descending else left < right

    def _key(self, prefix: str) -> list[BindParameter[Any]]:
        return [
            bindparam(f"{prefix}_{i}", type_=column.type) for i, column in enumerate(self.columns)
        ]


@dataclass(frozen=True, slots=True)
class PageShape:
    """What of a page request changes its SQL: the direction, which cursors are set, and
    how many rows to fetch.

    The row count is written into the SQL, not bound: the read pool runs generic
    plans (db/engine.py), and a generic plan for `LIMIT $1` guesses a tenth of the
    table, which turns a page's joins into hash joins over whole tables.
    """

    backward: bool
    after: bool
    before: bool
    rows: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first`/`after` forward, or `last`/`before` backward; keys already decoded."""

    limit: int
    backward: bool = False
    after: tuple[KeyValue, ...] | None = None
    before: tuple[KeyValue, ...] | None = None

    @property
    def shape(self) -> PageShape:
        # One row more than asked, to tell whether there is more.
        rows = self.limit + 1
        return PageShape(self.backward, self.after is not None, self.before is not None, rows)

    def values(self) -> dict[str, Any]:
        """What `page_query` binds: the cursors' keys."""
        values: dict[str, Any] = {}
        for prefix, key in (("after", self.after), ("before", self.before)):
            for i, value in enumerate(key or ()):
                values[f"{prefix}_{i}"] = value
        return values


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[DbRow]
    has_next: bool
    has_previous: bool


EMPTY_PAGE = Page(rows=[], has_next=False, has_previous=False)


def page_query(
    stmt: Select[Any], ordering: Ordering, shape: PageShape, extend: Extend | None = None
) -> Select[Any]:
    """Restrict, order and limit `stmt` to one page; `PageRequest.values` binds it.

    `extend(statement, page)` may join more columns to the page's rows: it runs
    after the LIMIT, so only rows that are returned pay for them.
    """
    if shape.after:
        stmt = stmt.where(ordering.after())
    if shape.before:
        stmt = stmt.where(ordering.before())
    page = stmt.order_by(*ordering.order_by(reverse=shape.backward))
    page = page.limit(literal_column(str(int(shape.rows))))
    if extend is None:
        return page
    rows = page.subquery("page")
    return extend(select(rows), rows).order_by(*ordering.order_by(reverse=shape.backward, on=rows))


@shaped
def paged(
    rows: Callable[..., Select[Any]],
    shape: PageShape,
    ordering: Ordering,
    *args: Hashable,
    relations: Relations = NO_RELATIONS,
) -> Select[Any]:
    """The statement for one page of `rows(*args)` (with `relations` joined to its rows),
    to run with `fetch_page`."""
    return page_query(rows(*args), ordering, shape, extend(relations))


@shaped
def counted(rows: Callable[..., Select[Any]], *args: Hashable) -> Select[Any]:
    """The statement counting `rows(*args)`."""
    return select(func.count()).select_from(rows(*args).subquery())


def to_page(rows: Sequence[DbRow], request: PageRequest) -> Page:
    more = len(rows) > request.limit
    kept = list(rows[: request.limit])
    if request.backward:
        kept.reverse()
        return Page(kept, has_next=request.before is not None, has_previous=more)
    return Page(kept, has_next=more, has_previous=request.after is not None)


async def fetch_page(
    conn: asyncpg.Connection, statement: Statement, request: PageRequest, **values: Any
) -> Page:
    """Run a `page_query` statement for `request`; `values` binds everything else."""
    rows = await fetch(conn, statement, **request.values(), **values)
    return to_page(rows, request)


def any_id(column: ColumnElement[int], name: str = "ids") -> ColumnElement[bool]:
    """`column = ANY(:ids)`: one prepared statement for every batch size (an IN list is not)."""
    return column == any_(bindparam(name, type_=ARRAY(BigInteger)))


def pages_by_parent(
    page_for_parent: PageFor,
    ordering: Ordering,
    shape: PageShape,
    relations: Relations = NO_RELATIONS,
) -> Select[Any]:
    """Every parent's own page in one statement: a LATERAL page per parent of `:parent_ids`.

    `page_for_parent(parent_id_column)` returns the per-parent SELECT (unordered,
    unlimited); each parent gets its own `limit + 1` rows and its own cursors.
    `relations` are joined to the pages' rows.
    """
    parent = (
        func.unnest(bindparam("parent_ids", type_=ARRAY(BigInteger)))
        .table_valued("id", with_ordinality="ord")
        .render_derived(name="parent")
    )
    inner = page_query(page_for_parent(parent.c.id), ordering, shape).lateral("page")
    stmt = select(parent.c.id.label("parent_id"), inner).select_from(parent)
    stmt = stmt.join(inner, literal_column("true"))
    stmt = join_all(stmt, inner, relations)
    return stmt.order_by(parent.c.ord, *ordering.order_by(reverse=shape.backward, on=inner))


def parent_with_page(
    parent: Select[Any],
    prefix: str,
    page_for_parent: PageFor,
    ordering: Ordering,
    shape: PageShape,
    relations: Relations = NO_RELATIONS,
) -> Select[Any]:
    """The rows of `parent` (a lookup of at most one row, with an `id` column), each
    with its own page, in one statement: a root lookup and the first page below it in
    one round trip instead of two.

    The parent's columns come as `<prefix><column>` beside the page's (with
    `relations` joined to them); a parent whose page is empty still comes, once, with
    the page's columns null. Read back with `fetch_parent_with_page`.
    """
    found = parent.subquery("parent")
    # Correlated by name: with relations the page's own SELECT is nested a level below
    # the LATERAL, out of automatic correlation's reach, and would read the parent
    # again on its own, once per call (found by the bench: six times the DB time).
    rows = page_for_parent(found.c.id).correlate(found)
    # Columns sent as NULL only in the outer SELECT: its ORDER BY reads the page's.
    joins, unread = masks(relations)
    inner = page_query(rows, ordering, shape, extend(joins))
    page = inner.lateral("parent_page")
    columns = [column.label(prefix + column.key) for column in found.c]
    stmt = select(*columns, page).select_from(found).outerjoin(page, literal_column("true"))
    stmt = stmt.order_by(*ordering.order_by(reverse=shape.backward, on=page))
    return join_all(stmt, page, unread)


async def fetch_parent_with_page(
    conn: asyncpg.Connection, statement: Statement, request: PageRequest, **values: Any
) -> tuple[Row | None, Page]:
    """Run a `parent_with_page` statement: the parent's row (its columns under the
    prefix) or None, and its page."""
    rows = await fetch(conn, statement, **request.values(), **values)
    if not rows:
        return None, EMPTY_PAGE
    page = [row for row in rows if row["id"] is not None]
    return rows[0], to_page(page, request)


# The columns `page_with_pages` adds: which kind a row is, its parent's place in the page.
ROW_KIND, PARENT_PLACE = "page_row_kind", "page_parent_place"
_KIND, _ID, _PARENT = itemgetter(ROW_KIND), itemgetter("id"), itemgetter("parent_id")
# The prefix of the columns a page's rows are ordered by there (not sent).
PAGE_KEY = "page_row_key_"


def page_with_pages(
    parents: Select[Any],
    parent_ordering: Ordering,
    parent_shape: PageShape,
    page_for_parent: PageFor,
    ordering: Ordering,
    shape: PageShape,
    relations: Relations = NO_RELATIONS,
    parent_relations: Relations = NO_RELATIONS,
) -> Select[Any]:
    """A page of `parents` (rows with an `id`) and each parent's own first page, in one
    statement: a root list and the pages below it in one round trip instead of two.
    `relations` are joined to the pages' rows; of `parent_relations`, only columns sent
    as NULL (db.relations.unread) apply to the parents' rows.

    Each row is either a parent's (`ROW_KIND` 0, in the parents' page's order) or a
    row of a parent's page (1, with `parent_id`, by parent, in the page's order), all
    under their own column names: a column both have (`id`, `created_at`) holds the
    row's own kind's value, and the other kind's columns are null. Rows of either kind
    read as rows of their table, cursors included. Only the parents' page takes
    cursors (`PageRequest.values`); the pages below start at their beginning. Read back
    with `fetch_page_with_pages`.
    """
    if shape.after or shape.before:
        raise ValueError("the pages below a page of parents start at their beginning")
    page = page_query(parents, parent_ordering, parent_shape).subquery("parent_page")
    place = func.row_number().over(
        order_by=parent_ordering.order_by(reverse=parent_shape.backward, on=page)
    )
    found = select(page, place.label(PARENT_PLACE)).cte("parent")
    rows = page_for_parent(found.c.id).correlate(found)
    joins, _ = masks(relations)
    inner = page_query(rows, ordering, shape, extend(joins)).lateral("parent_page_rows")
    own = [column for column in found.c if column.key != PARENT_PLACE]
    below = [column for column in inner.c if column.key not in found.c]
    for column in inner.c:
        if column.key in found.c and type(column.type) is not type(found.c[column.key].type):
            raise ValueError(f"{column.key} differs in type between the two kinds of row")
    # The pages' order by columns of their own, which the outer SELECT leaves out: a
    # column both kinds share (`created_at`) may be sent as NULL for one kind only.
    keys = [f"{PAGE_KEY}{i}" for i in range(len(ordering.columns))]
    hidden, parents_hidden = unread_in(relations), unread_in(parent_relations)
    sent = {c.key: c for c in inner.c if c.key not in hidden}

    def row(kind: int, values: Mapping[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
        return [
            literal_column(str(kind)).label(ROW_KIND),
            found.c[PARENT_PLACE],
            (found.c.id if kind else null().cast(BigInteger)).label("parent_id"),
            *(values.get(c.key, null().cast(c.type)).label(c.key) for c in (*own, *below)),
            *(
                (inner.c[c.key] if kind else null().cast(c.type)).label(key)
                for key, c in zip(keys, ordering.columns, strict=True)
            ),
        ]

    parents_sent = {c.key: c for c in own if c.key not in parents_hidden}
    parent_rows = select(*row(0, parents_sent)).select_from(found)
    # Not the parent fetched past the page's end (it only tells whether there is more).
    kept = found.c[PARENT_PLACE] <= literal_column(str(int(parent_shape.rows) - 1))
    page_rows = (
        select(*row(1, sent)).select_from(found).join(inner, literal_column("true")).where(kept)
    )
    both = union_all(parent_rows, page_rows).subquery("page_with_pages")
    return select(*(c for c in both.c if c.key not in keys)).order_by(
        both.c[ROW_KIND],
        both.c[PARENT_PLACE],
        *ordering.order_by(reverse=shape.backward, on=[both.c[key] for key in keys]),
    )


async def fetch_page_with_pages(
    conn: asyncpg.Connection,
    statement: Statement,
    request: PageRequest,
    below: PageRequest,
    **values: Any,
) -> tuple[Page, list[Page]]:
    """Run a `page_with_pages` statement: the parents' page, and each kept parent's page
    (`below`), in the parents' order."""
    rows = await fetch(conn, statement, **request.values(), **values)
    # The parents' rows (kind 0) come first: the first row of kind 1 found by bisection.
    split = bisect.bisect_left(rows, 1, key=_KIND)
    parents = to_page(rows[:split], request)
    # The pages' rows come parent by parent: grouped in C, not row by row.
    grouped = {parent: list(group) for parent, group in groupby(rows[split:], key=_PARENT)}
    return parents, [to_page(grouped.get(key, ()), below) for key in map(_ID, parents.rows)]


async def fetch_pages_by_parent(
    conn: asyncpg.Connection,
    statement: Statement,
    parent_keys: Sequence[int],
    request: PageRequest,
    **values: Any,
) -> list[Page]:
    """Run a `pages_by_parent` statement: one page per key, in key order."""
    if not parent_keys:
        return []
    rows = await fetch(conn, statement, parent_ids=list(parent_keys), **request.values(), **values)
    return [to_page(group, request) for group in all_per_key(parent_keys, rows, "parent_id")]
