"""Batch reads of users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import users
from db.paging import DbRow, Ordering, Page, PageRequest, any_id, fetch_page
from db.posts import contains

BY_USERNAME = Ordering("username", (users.c.username, users.c.id))

# Never the password hash: nothing above this module needs it to show a user.
COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.full_name,
    users.c.is_admin,
    users.c.created_at,
)


async def users_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[DbRow | None]:
    rows = (await conn.execute(select(*COLUMNS).where(any_id(users.c.id, ids)))).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(key) for key in ids]


async def user_by_username(conn: AsyncConnection, username: str) -> DbRow | None:
    stmt = select(*COLUMNS).where(func.lower(users.c.username) == username.lower())
    return (await conn.execute(stmt)).first()


def _searched(search: str | None) -> Select[Any]:
    stmt = select(*COLUMNS)
    if search:
        stmt = stmt.where(
            or_(contains(users.c.username, search), contains(users.c.full_name, search))
        )
    return stmt


async def users_page(
    conn: AsyncConnection,
    request: PageRequest,
    *,
    search: str | None,
    ordering: Ordering = BY_USERNAME,
) -> Page:
    return await fetch_page(conn, _searched(search), ordering, request)


async def users_count(conn: AsyncConnection, *, search: str | None) -> int:
    stmt = select(func.count()).select_from(_searched(search).subquery())
    return int((await conn.execute(stmt)).scalar_one())
