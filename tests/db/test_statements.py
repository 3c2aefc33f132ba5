"""Reads compiled once per shape: values are bound, never written into the SQL (a page's
size, which the read pool's generic plans need to know, is part of the shape)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Select, String, bindparam, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from db import models, posts
from db.access import Access
from db.engine import read
from db.paging import Ordering, PageRequest, paged
from db.read_pool import ReadPool
from db.rows import columns
from db.statement_counter import counting
from db.statements import fetch, fetch_one, shaped
from tests.factories import make_post, make_user


@shaped
def _echo(with_name: bool) -> Select[Any]:
    columns: list[Any] = [bindparam("n", type_=BigInteger).label("n"), literal("k").label("k")]
    stmt: Select[Any] = select(*columns)
    if with_name:
        stmt = stmt.add_columns(bindparam("name", type_=String).label("name"))
    return stmt


def test_a_shape_is_built_and_compiled_once() -> None:
    assert _echo(True) is _echo(True)
    assert _echo(True) is not _echo(False)


async def test_rows_read_by_name_key_and_position(read_pool: ReadPool) -> None:
    async with read_pool.connection() as conn:
        row = await fetch_one(conn, _echo(True), n=7, name="x")
    assert row is not None
    assert (row.n, row["k"], row[2]) == (7, "k", "x")
    with pytest.raises(AttributeError, match="nope"):
        _ = row.nope


async def test_columns_read_reads_and_writes_rows_alike(
    read_pool: ReadPool, session: AsyncSession
) -> None:
    async with read_pool.connection() as conn:
        row = await fetch_one(conn, _echo(True), n=7, name="x")
    prefixed = select(literal(7).label("x__n"), literal("k").label("x__k"))
    written = (await session.execute(prefixed)).one()

    assert columns("n", "name")(row) == (7, "x")
    assert columns("n", "k", prefix="x__")(written) == (7, "k")
    with pytest.raises(KeyError, match="missing"):
        columns("n", "missing")(row)
    with pytest.raises(ValueError, match="two or more"):
        columns("n")


@shaped
def _typed() -> Select[Any]:
    return select(
        bindparam("status", type_=models.Order.__table__.c.status.type).label("status"),
        bindparam("ids", type_=ARRAY(BigInteger)).label("ids"),
        bindparam("flag", type_=Boolean).label("flag"),
        bindparam("statuses", type_=ARRAY(models.Order.__table__.c.status.type)).label("statuses"),
    )


async def test_values_go_through_their_types_bind_processors(read_pool: ReadPool) -> None:
    statuses = (models.OrderStatus.PAID, models.OrderStatus.SHIPPED)
    # Keys (any sequence) go to asyncpg as they are: only an array's items may need
    # their type's processing (an enum member to its label).
    values = {"status": models.OrderStatus.PAID, "ids": (1, 2), "flag": 1, "statuses": statuses}
    assert _typed().arguments(values) == ["paid", (1, 2), True, ["paid", "shipped"]]
    async with read_pool.connection() as conn:
        row = await fetch_one(conn, _typed(), **values)
    assert row is not None
    assert (row.status, row.ids, row.flag) == ("paid", [1, 2], True)
    assert row.statuses == ["paid", "shipped"]


async def test_a_missing_value_is_named(read_pool: ReadPool) -> None:
    async with read_pool.connection() as conn:
        with pytest.raises(TypeError, match=":name"):
            await fetch(conn, _echo(True), n=1)


async def test_two_viewers_and_two_cursors_share_one_statement_text(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    alice = await make_user(session, username="alice")
    bob = await make_user(session, username="bob")
    for user in (alice, bob):
        for _ in range(3):
            await make_post(session, user.id, published=False)

    with counting() as log:
        pages = []
        for viewer, after in ((alice, None), (bob, None), (alice, 5), (bob, 2)):
            request = PageRequest(limit=2, after=None if after is None else (after,))
            pages.append(
                await read(
                    read_pool,
                    posts.posts_page,
                    request,
                    ordering=posts.TITLE if after is None else _BY_ID,
                    where=posts.NO_FILTER,
                    access=Access(viewer_id=viewer.id),
                )
            )

    # Each viewer sees only their own unpublished posts, through the same SQL.
    assert {row.author_id for row in pages[0].rows} == {alice.id}
    assert {row.author_id for row in pages[1].rows} == {bob.id}
    assert log.statements[0] == log.statements[1]
    assert log.statements[2] == log.statements[3]


_BY_ID = Ordering("id", (models.posts.c.id,))


async def test_a_page_size_is_written_into_the_sql_and_planned_once(
    read_pool: ReadPool,
) -> None:
    def page(limit: int) -> str:
        statement = paged(
            posts._visible, PageRequest(limit=limit).shape, posts.NEWEST,
            Access().reader, posts.NO_FILTER.shape,
        )  # fmt: skip
        return statement.sql

    async with read_pool.connection() as conn:
        mode = await conn.fetchval("SHOW plan_cache_mode")

    assert page(20) is page(20)
    assert page(20).rstrip().endswith("LIMIT 21")
    assert page(5).rstrip().endswith("LIMIT 6")
    # A generic plan, made once per connection, knows how many rows the page wants.
    assert mode == "force_generic_plan"
