"""Counts that do not grow with the table: read from `row_counts`, which triggers keep
in the transaction of every write that changes them (revision e91d3b5a7c20).

Each count is the sum of its slots (a handful of rows), whatever the number of rows it
counts. For posts, the visibility rule (db/access.py) is applied to the two numbers
kept, every post and the published ones: the published are visible to everyone, the
drafts to admins, and a user's own drafts to that user (counted live, from the index
on drafts by author, when they cannot come from the user's own count). The result is
always what `count(*)` under the rule gives; tests/db/test_counts.py races writers and
compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    select,
    union_all,
)

from db.access import VIEWER_ID, Access, Reader, visible_drafts, visible_own
from db.models import post_tags, posts, row_counts
from db.paging import any_id
from db.rows import count_per_key
from db.statements import fetch, fetch_value, shaped

_DRAFTS = row_counts.c.n - row_counts.c.published


def _visible(reader: Reader, own: ColumnElement[bool], published: bool | None) -> Any:
    """Of a count's posts, how many the reader may see (only the published ones, or only
    the drafts, when `published` says so)."""
    parts: list[Any] = []
    if published is not False:
        parts.append(row_counts.c.published)
    if published is not True:
        parts.append(case((visible_drafts(reader, own), _DRAFTS), else_=0))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _of(subject: str) -> ColumnElement[bool]:
    return row_counts.c.subject == literal(subject)


@shaped
def _whole(subject: str) -> Select[Any]:
    return select(func.coalesce(func.sum(row_counts.c.n), 0)).where(
        _of(subject), row_counts.c.key == 0
    )


async def rows_in(conn: asyncpg.Connection, table: str) -> int:
    """Every row of `table` (users, tags, products or orders)."""
    return int(await fetch_value(conn, _whole(table)))


@shaped
def _all_posts(reader: Reader) -> Select[Any]:
    everyone = _of("posts") & (row_counts.c.key == 0)
    counted = _visible(reader, false(), None)
    if reader is not Reader.USER:
        return select(func.coalesce(func.sum(counted), 0)).where(everyone)
    # A user also sees their own drafts: their own count's.
    theirs = _of("author") & (row_counts.c.key == VIEWER_ID)
    counted = case((everyone, counted), else_=_DRAFTS)
    return select(func.coalesce(func.sum(counted), 0)).where(everyone | theirs)


async def all_posts(conn: asyncpg.Connection, *, access: Access) -> int:
    """Every post the viewer may see."""
    return int(await fetch_value(conn, _all_posts(access.reader), **access.values))


def _of_authors(reader: Reader, published: bool | None) -> Any:
    """Of each author's slots, what counts: their posts the reader may see."""
    return _visible(reader, row_counts.c.key == VIEWER_ID, published)


@shaped
def _by_author(reader: Reader, published: bool | None) -> Select[Any]:
    return (
        select(row_counts.c.key, func.sum(_of_authors(reader, published)))
        .where(_of("author"), any_id(row_counts.c.key))
        .group_by(row_counts.c.key)
    )


def author_posts(
    reader: Reader, published: bool | None, author_id: ColumnElement[int]
) -> ColumnElement[int]:
    """`posts_by_author_ids`' count for one author, as a column of a statement that has
    the author's id (a count riding in its author's lookup)."""
    counted = func.coalesce(func.sum(_of_authors(reader, published)), 0)
    return select(counted).where(_of("author"), row_counts.c.key == author_id).scalar_subquery()


async def posts_by_author_ids(
    conn: asyncpg.Connection, author_ids: Sequence[int], *, published: bool | None, access: Access
) -> list[int]:
    """Each author's posts the viewer may see (only the published, or only the drafts)."""
    statement = _by_author(access.reader, published)
    rows = await fetch(conn, statement, ids=list(author_ids), **access.values)
    return count_per_key(author_ids, rows)


@shaped
def _by_tag(reader: Reader) -> Select[Any]:
    # Whose drafts these are is not kept per tag: a user's own are counted live.
    kept = select(row_counts.c.key, _visible(reader, false(), None).label("n")).where(
        _of("tag"), any_id(row_counts.c.key)
    )
    if reader is Reader.USER:
        own_drafts = (
            select(post_tags.c.tag_id, literal(1))
            .join(posts, posts.c.id == post_tags.c.post_id)
            .where(
                and_(posts.c.author_id == VIEWER_ID, ~posts.c.published),
                any_id(post_tags.c.tag_id),
            )
        )
        counts = union_all(kept, own_drafts).subquery()
    else:
        counts = kept.subquery()
    return select(counts.c.key, func.sum(counts.c.n)).group_by(counts.c.key)


async def posts_by_tag_ids(
    conn: asyncpg.Connection, tag_ids: Sequence[int], *, access: Access
) -> list[int]:
    """Each tag's posts the viewer may see."""
    rows = await fetch(conn, _by_tag(access.reader), ids=list(tag_ids), **access.values)
    return count_per_key(tag_ids, rows)


@shaped
def _orders(reader: Reader) -> Select[Any]:
    if reader is Reader.ADMIN:
        which = _of("orders") & (row_counts.c.key == 0)
    else:
        which = _of("customer") & visible_own(reader, row_counts.c.key == VIEWER_ID)
    return select(func.coalesce(func.sum(row_counts.c.n), 0)).where(which)


async def orders(conn: asyncpg.Connection, *, access: Access) -> int:
    """Every order the viewer may see: all for an admin, their own for a user."""
    return int(await fetch_value(conn, _orders(access.reader), **access.values))


@shaped
def _by_customer(reader: Reader) -> Select[Any]:
    counted = case((visible_own(reader, row_counts.c.key == VIEWER_ID), row_counts.c.n), else_=0)
    return (
        select(row_counts.c.key, func.sum(counted))
        .where(_of("customer"), any_id(row_counts.c.key))
        .group_by(row_counts.c.key)
    )


async def orders_by_customer_ids(
    conn: asyncpg.Connection, customer_ids: Sequence[int], *, access: Access
) -> list[int]:
    """Each customer's orders the viewer may see."""
    rows = await fetch(conn, _by_customer(access.reader), ids=list(customer_ids), **access.values)
    return count_per_key(customer_ids, rows)
