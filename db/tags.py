"""Batch reads of tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import post_tags, tags
from db.paging import DbRow, Ordering, Page, PageRequest, any_id, fetch_page
from db.posts import contains

BY_NAME = Ordering("tag_name", (tags.c.name, tags.c.id))


async def tags_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[DbRow | None]:
    rows = (await conn.execute(select(tags).where(any_id(tags.c.id, ids)))).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(key) for key in ids]


async def tag_by_name(conn: AsyncConnection, name: str) -> DbRow | None:
    stmt = select(tags).where(tags.c.name == name.strip().lower())
    return (await conn.execute(stmt)).first()


async def tags_by_post_ids(conn: AsyncConnection, post_ids: Sequence[int]) -> list[list[DbRow]]:
    """Each post's tags, ordered by name."""
    stmt = (
        select(post_tags.c.post_id, tags.c.id, tags.c.name)
        .join(tags, tags.c.id == post_tags.c.tag_id)
        .where(any_id(post_tags.c.post_id, post_ids))
        .order_by(tags.c.name, tags.c.id)
    )
    grouped: dict[int, list[DbRow]] = {}
    for row in (await conn.execute(stmt)).all():
        grouped.setdefault(row.post_id, []).append(row)
    return [grouped.get(key, []) for key in post_ids]


def _searched(search: str | None) -> Select[Any]:
    stmt = select(tags)
    if search:
        stmt = stmt.where(contains(tags.c.name, search))
    return stmt


async def tags_page(
    conn: AsyncConnection,
    request: PageRequest,
    *,
    search: str | None,
    ordering: Ordering = BY_NAME,
) -> Page:
    return await fetch_page(conn, _searched(search), ordering, request)


async def tags_count(conn: AsyncConnection, *, search: str | None) -> int:
    stmt = select(func.count()).select_from(_searched(search).subquery())
    return int((await conn.execute(stmt)).scalar_one())
