"""Batch reads of tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, String, bindparam, select

from db import counts
from db.models import post_tags, tags
from db.paging import Ordering, Page, PageRequest, any_id, counted, fetch_page, paged
from db.rows import Row, all_per_key, one_per_key
from db.search import contains, search_values
from db.statements import fetch, fetch_one, fetch_value, shaped

# API.md: a post has at most 10 tags, each 1 to 50 characters.
MAX_TAGS_PER_POST = 10
MAX_TAG_NAME = 50
BY_NAME = Ordering("tag_name", (tags.c.name, tags.c.id))


def normalise_name(name: str) -> str:
    """The one form of a tag name: as stored, looked up, filtered on and subscribed to.

    Tags are stored trimmed and lower-case, so "Python " and "python" are one tag.
    """
    return name.strip().lower()


@shaped
def _by_ids() -> Select[Any]:
    return select(tags).where(any_id(tags.c.id))


async def tags_by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[Row | None]:
    return one_per_key(ids, await fetch(conn, _by_ids(), ids=list(ids)))


@shaped
def _by_name() -> Select[Any]:
    return select(tags).where(tags.c.name == bindparam("name", type_=String))


async def tag_by_name(conn: asyncpg.Connection, name: str) -> Row | None:
    return await fetch_one(conn, _by_name(), name=normalise_name(name))


@shaped
def _by_post_ids() -> Select[Any]:
    return (
        # The tag's columns from post_tags' copies (db/models.py), in their index's order.
        select(
            post_tags.c.post_id,
            post_tags.c.tag_id.label("id"),
            post_tags.c.tag_name.label("name"),
        )
        .where(any_id(post_tags.c.post_id))
        .order_by(post_tags.c.post_id, post_tags.c.tag_name, post_tags.c.tag_id)
    )


async def tags_by_post_ids(conn: asyncpg.Connection, post_ids: Sequence[int]) -> list[list[Row]]:
    """Each post's tags, ordered by name."""
    rows = await fetch(conn, _by_post_ids(), ids=list(post_ids))
    return all_per_key(post_ids, rows, "post_id")


def _searched(search: bool) -> Select[Any]:
    stmt = select(tags)
    if search:
        stmt = stmt.where(contains(tags.c.name))
    return stmt


async def tags_page(
    conn: asyncpg.Connection,
    request: PageRequest,
    *,
    search: str | None,
    ordering: Ordering = BY_NAME,
) -> Page:
    statement = paged(_searched, request.shape, ordering, bool(search))
    return await fetch_page(conn, statement, request, **search_values(search))


async def tags_count(conn: asyncpg.Connection, *, search: str | None) -> int:
    if not search:
        return await counts.rows_in(conn, "tags")
    statement = counted(_searched, bool(search))
    return int(await fetch_value(conn, statement, **search_values(search)))
