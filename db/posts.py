"""Batch reads of posts: by id, pages (top level, per author, per tag) and counts.

Visibility is applied inside every statement, so no caller ever holds a row its
viewer may not see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.access import Access
from db.models import post_tags, posts, tags, users
from db.paging import (
    DbRow,
    Ordering,
    Page,
    PageRequest,
    any_id,
    fetch_page,
    fetch_pages_by_parent,
)

NEWEST = Ordering("newest", (posts.c.created_at, posts.c.id), descending=True)
OLDEST = Ordering("oldest", (posts.c.created_at, posts.c.id))
TITLE = Ordering("title", (posts.c.title, posts.c.id))


@dataclass(frozen=True, slots=True)
class PostFilter:
    published: bool | None = None
    author_username: str | None = None
    tag: str | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


NO_FILTER = PostFilter()


def contains(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, with LIKE's wildcards taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _conditions(access: Access, where: PostFilter) -> list[ColumnElement[bool]]:
    conditions = [access.visible_posts()]
    if where.published is not None:
        conditions.append(posts.c.published.is_(where.published))
    if where.author_username is not None:
        author = select(users.c.id).where(
            func.lower(users.c.username) == where.author_username.lower()
        )
        conditions.append(posts.c.author_id == author.scalar_subquery())
    if where.tag is not None:
        tagged = (
            select(post_tags.c.post_id)
            .join(tags, tags.c.id == post_tags.c.tag_id)
            .where(post_tags.c.post_id == posts.c.id, tags.c.name == where.tag.strip().lower())
        )
        conditions.append(exists(tagged))
    if where.search:
        conditions.append(
            or_(contains(posts.c.title, where.search), contains(posts.c.body, where.search))
        )
    if where.created_after is not None:
        conditions.append(posts.c.created_at > where.created_after)
    if where.created_before is not None:
        conditions.append(posts.c.created_at < where.created_before)
    return conditions


def _visible(access: Access, where: PostFilter = NO_FILTER) -> Select[Any]:
    return select(posts).where(and_(*_conditions(access, where)))


async def posts_by_ids(
    conn: AsyncConnection, ids: Sequence[int], *, access: Access
) -> list[DbRow | None]:
    rows = (await conn.execute(_visible(access).where(any_id(posts.c.id, ids)))).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(key) for key in ids]


async def posts_page(
    conn: AsyncConnection,
    request: PageRequest,
    *,
    ordering: Ordering,
    where: PostFilter,
    access: Access,
) -> Page:
    return await fetch_page(conn, _visible(access, where), ordering, request)


async def posts_count(conn: AsyncConnection, *, where: PostFilter, access: Access) -> int:
    stmt = select(func.count()).select_from(posts).where(and_(*_conditions(access, where)))
    return int((await conn.execute(stmt)).scalar_one())


async def post_pages_by_author_ids(
    conn: AsyncConnection,
    author_ids: Sequence[int],
    request: PageRequest,
    *,
    ordering: Ordering,
    where: PostFilter,
    access: Access,
) -> list[Page]:
    def page_for(author_id: ColumnElement[int]) -> Select[Any]:
        return _visible(access, where).where(posts.c.author_id == author_id)

    return await fetch_pages_by_parent(conn, author_ids, page_for, ordering, request)


async def post_counts_by_author_ids(
    conn: AsyncConnection, author_ids: Sequence[int], *, where: PostFilter, access: Access
) -> list[int]:
    stmt = (
        select(posts.c.author_id, func.count())
        .where(any_id(posts.c.author_id, author_ids), *_conditions(access, where))
        .group_by(posts.c.author_id)
    )
    return _in_key_order(author_ids, (await conn.execute(stmt)).all())


# A tag's posts by date page through post_tags' own index. post_created_at and
# post_id are copies of posts.created_at and posts.id, so the keys (and so the
# cursors, which share the posts orderings' names) are the same as any post list's.
TAGGED_NEWEST = Ordering(
    NEWEST.name, (post_tags.c.post_created_at, post_tags.c.post_id), descending=True
)
TAGGED_OLDEST = Ordering(OLDEST.name, (post_tags.c.post_created_at, post_tags.c.post_id))
TAGGED = {NEWEST.name: TAGGED_NEWEST, OLDEST.name: TAGGED_OLDEST}


def tagged_ordering(ordering: Ordering) -> Ordering:
    """The ordering a tag's posts page by for `ordering` of posts."""
    return TAGGED.get(ordering.name, ordering)


def _tagged_posts(access: Access) -> Callable[[ColumnElement[int]], Select[Any]]:
    def page_for(tag_id: ColumnElement[int]) -> Select[Any]:
        return (
            select(posts, post_tags.c.post_created_at, post_tags.c.post_id)
            .join(post_tags, post_tags.c.post_id == posts.c.id)
            .where(post_tags.c.tag_id == tag_id, access.visible_tagged())
        )

    return page_for


async def post_pages_by_tag_ids(
    conn: AsyncConnection,
    tag_ids: Sequence[int],
    request: PageRequest,
    *,
    ordering: Ordering,
    access: Access,
) -> list[Page]:
    """Each tag's page; `ordering` must come from `tagged_ordering`."""
    return await fetch_pages_by_parent(conn, tag_ids, _tagged_posts(access), ordering, request)


async def post_counts_by_tag_ids(
    conn: AsyncConnection, tag_ids: Sequence[int], *, access: Access
) -> list[int]:
    stmt = (
        select(post_tags.c.tag_id, func.count())
        .where(any_id(post_tags.c.tag_id, tag_ids), access.visible_tagged())
        .group_by(post_tags.c.tag_id)
    )
    return _in_key_order(tag_ids, (await conn.execute(stmt)).all())


def _in_key_order(keys: Sequence[int], rows: Sequence[DbRow]) -> list[int]:
    counts = {row[0]: int(row[1]) for row in rows}
    return [counts.get(key, 0) for key in keys]
