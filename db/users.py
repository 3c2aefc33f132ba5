"""Batch reads of users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Select, String, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import counts
from db.models import users
from db.paging import Ordering, Page, PageRequest, any_id, counted, fetch_page, paged
from db.relations import NO_RELATIONS, Relations, unread
from db.rows import DbRow, Row, one_per_key
from db.search import contains, search_values
from db.statements import fetch, fetch_one, fetch_value, shaped

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
_KEYS = tuple(column.key for column in COLUMNS)
# Only User.createdAt shows it (db/relations.py: a timestamp is costly to decode).
CREATED_AT_UNREAD = unread("created_at")


def with_user(stmt: Select[Any], user_id: ColumnElement[int], prefix: str) -> Select[Any]:
    """`stmt` with the user `user_id` names joined, its columns as `<prefix><column>`.

    Joined under an alias, so that a subquery of `stmt` on users (a filter by
    username) does not correlate to it. Read back with `db.statements.columns(...,
    prefix=prefix)`: the joined columns are a users row's, renamed.
    """
    user = users.alias(prefix.rstrip("_"))
    columns = (user.c[key].label(prefix + key) for key in _KEYS)
    return stmt.add_columns(*columns).join(user, user.c.id == user_id)


@shaped
def _by_ids() -> Select[Any]:
    return select(*COLUMNS).where(any_id(users.c.id))


async def users_by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[Row | None]:
    return one_per_key(ids, await fetch(conn, _by_ids(), ids=list(ids)))


async def user_in_transaction(conn: AsyncConnection, user_id: int) -> DbRow:
    """A user the caller's own transaction just wrote (the read pool cannot see it yet)."""
    return (await conn.execute(select(*COLUMNS).where(users.c.id == user_id))).one()


def user_by_username_query() -> Select[Any]:
    """The user named `:username`, whatever its case."""
    return select(*COLUMNS).where(
        func.lower(users.c.username) == func.lower(bindparam("username", type_=String))
    )


@shaped
def _by_username() -> Select[Any]:
    return user_by_username_query()


async def user_by_username(conn: asyncpg.Connection, username: str) -> Row | None:
    return await fetch_one(conn, _by_username(), username=username)


def searched(search: bool) -> Select[Any]:
    """Every user, or with `search` those whose username or full name contains
    `:search` (`db.search.search_values`): unordered, for a page."""
    stmt = select(*COLUMNS)
    if search:
        stmt = stmt.where(or_(contains(users.c.username), contains(users.c.full_name)))
    return stmt


async def users_page(
    conn: asyncpg.Connection,
    request: PageRequest,
    *,
    search: str | None,
    ordering: Ordering = BY_USERNAME,
    relations: Relations = NO_RELATIONS,
) -> Page:
    """A page of users; `relations` may only leave columns unread (`CREATED_AT_UNREAD`)."""
    statement = paged(searched, request.shape, ordering, bool(search), relations=relations)
    return await fetch_page(conn, statement, request, **search_values(search))


async def users_count(conn: asyncpg.Connection, *, search: str | None) -> int:
    if not search:
        return await counts.rows_in(conn, "users")
    statement = counted(searched, bool(search))
    return int(await fetch_value(conn, statement, **search_values(search)))
