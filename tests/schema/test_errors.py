"""Unexpected failures are masked for clients and logged with a request id."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from schema.query import Query
from tests.conftest import GraphQL, replace_read
from tests.factories import make_post, make_user


async def test_an_unexpected_error_is_masked_and_logged_with_its_request_id(
    session: AsyncSession,
    gql: GraphQL,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    author = await make_user(session)
    await make_post(session, author.id)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError('relation "posts" secret driver text')

    replace_read(monkeypatch, Query, "posts", broken)
    with caplog.at_level(logging.ERROR, logger="storefront.errors"):
        body = await gql("{ posts { edges { node { title } } } }")

    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert "secret" not in str(body)
    assert 'posts"' not in error["message"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


async def test_a_statement_cut_off_by_statement_timeout_is_a_timeout_error(
    session: AsyncSession, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    async def slow(conn: asyncpg.Connection, *args: object, **kwargs: object) -> None:
        await conn.execute("SET statement_timeout = 50")
        try:
            await conn.execute("SELECT pg_sleep(1)")
        finally:
            await conn.execute("RESET statement_timeout")

    replace_read(monkeypatch, Query, "posts", slow)
    body = await gql("{ posts { edges { node { title } } } }")

    [error] = body["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"
