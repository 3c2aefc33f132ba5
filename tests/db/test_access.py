"""Each visibility rule, read as SQL and as Python, picks the same rows in PostgreSQL.

The mutations check one locked row with `Access.may_see_*`; the reads filter with
`visible_*`. If the two readings ever drifted, a mutation would answer NOT_FOUND for
a row a query shows, or act on one it hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import orders, posts
from db.access import Access, visible_orders, visible_posts, visible_tagged
from db.engine import read
from db.models import orders as orders_table
from db.models import post_tags
from db.models import posts as posts_table
from db.read_pool import ReadPool
from db.rows import DbRow, Row
from tests.factories import make_order, make_post, make_user


async def _people(session: AsyncSession, owner: str) -> tuple[dict[str, Access], DbRow, DbRow]:
    """Every kind of viewer, by name, and the two users who own rows (`owner`, the other)."""
    author = await make_user(session)
    other = await make_user(session)
    admin = await make_user(session, is_admin=True)
    viewers = {
        "anonymous": Access(),
        owner: Access(viewer_id=author.id),
        "other user": Access(viewer_id=other.id),
        "admin": Access(viewer_id=admin.id, is_admin=True),
    }
    return viewers, author, other


async def _ids(session: AsyncSession, statement: Select[Any], access: Access) -> set[int]:
    return set((await session.execute(statement, access.values)).scalars())


def _found(rows: Sequence[Row | None]) -> set[int]:
    return {row.id for row in rows if row is not None}


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("anonymous", {"author published", "other published"}),
        ("author", {"author published", "author draft", "other published"}),
        ("other user", {"author published", "other published", "other draft"}),
        ("admin", {"author published", "author draft", "other published", "other draft"}),
    ],
)
async def test_the_post_rule_is_the_same_in_sql_and_python(
    session: AsyncSession, read_pool: ReadPool, viewer: str, expected: set[str]
) -> None:
    viewers, author, other = await _people(session, "author")
    access = viewers[viewer]
    made: dict[str, DbRow] = {}
    for owner_name, owner in (("author", author), ("other", other)):
        for state, published in (("published", True), ("draft", False)):
            made[f"{owner_name} {state}"] = await make_post(
                session, owner.id, published=published, tags=["shared"]
            )
    ids = [row.id for row in made.values()]

    in_python = {
        row.id for row in made.values() if access.may_see_post(row.author_id, row.published)
    }
    in_sql = await _ids(
        session, select(posts_table.c.id).where(visible_posts(access.reader)), access
    )
    tagged = select(post_tags.c.post_id).where(visible_tagged(access.reader))
    read_back = await read(read_pool, posts.posts_by_ids, ids, access=access)

    assert in_python == {made[name].id for name in expected}
    assert in_sql == in_python
    assert await _ids(session, tagged, access) == in_python
    assert _found(read_back) == in_python


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("anonymous", set()),
        ("customer", {"customer's"}),
        ("other user", {"other's"}),
        ("admin", {"customer's", "other's"}),
    ],
)
async def test_the_order_rule_is_the_same_in_sql_and_python(
    session: AsyncSession, read_pool: ReadPool, viewer: str, expected: set[str]
) -> None:
    viewers, customer, other = await _people(session, "customer")
    access = viewers[viewer]
    made = {
        "customer's": await make_order(session, customer.id, []),
        "other's": await make_order(session, other.id, []),
    }
    ids = [row.id for row in made.values()]

    in_python = {row.id for row in made.values() if access.may_see_order(row.user_id)}
    private = {row.id for row in made.values() if access.may_see_private(row.user_id)}
    in_sql = await _ids(
        session, select(orders_table.c.id).where(visible_orders(access.reader)), access
    )
    read_back = await read(read_pool, orders.orders_by_ids, ids, access=access)

    assert in_python == {made[name].id for name in expected}
    assert private == in_python
    assert in_sql == in_python
    assert _found(read_back) == in_python
