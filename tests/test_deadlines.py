"""Deadlines and bounds (API.md, "Limits"): statement and request timeouts, pool saturation,
and the response-size bound. Slow work comes from tests/slow.py's extra root fields."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from schema.ids import encode_id
from settings import Settings
from tests.conftest import codes
from tests.factories import make_post, make_product, make_token, make_user, snapshot
from tests.slow import SlowQuery

Client = Callable[..., Any]


@asynccontextmanager
async def _client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url, query=SlowQuery)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _sleeping_backends(database_url: str) -> int:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
            " AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return count


async def _none_left(database_url: str, within: float = 3.0) -> None:
    """No backend of ours is still sleeping, within `within` seconds."""
    deadline = time.monotonic() + within
    while await _sleeping_backends(database_url):
        assert time.monotonic() < deadline, "a cut-off statement is still running"
        await asyncio.sleep(0.1)


async def test_the_statement_timeout_answers_timeout(settings: Settings, database_url: str) -> None:
    short = dataclasses.replace(settings, statement_timeout_ms=300)
    async with _client(short, database_url) as client:
        started = time.monotonic()
        response = await client.post("/graphql", json={"query": "{ sleep(seconds: 5) }"})
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert codes(response.json()) == ["TIMEOUT"]
    assert elapsed < 3
    await _none_left(database_url)


async def test_the_request_deadline_answers_timeout_and_stops_the_statement(
    settings: Settings, database_url: str
) -> None:
    short = dataclasses.replace(settings, request_timeout_s=0.5)
    async with _client(short, database_url) as client:
        started = time.monotonic()
        response = await client.post("/graphql", json={"query": "{ sleep(seconds: 4) }"})
        elapsed = time.monotonic() - started
        assert response.json() == {
            "data": None,
            "errors": [
                {
                    "message": "The request took too long and was cut off",
                    "extensions": {
                        "code": "TIMEOUT",
                        "requestId": response.headers["x-request-id"],
                    },
                }
            ],
        }
        assert elapsed < 2
        await _none_left(database_url)


async def test_a_mutation_cut_off_by_the_request_deadline_answers_timeout_and_writes_nothing(
    settings: Settings, database_url: str, session: AsyncSession
) -> None:
    """Cancelled midway through its transaction (its statement waits on a lock), the
    mutation rolls back on a connection SQLAlchemy has given up on: the answer is
    still TIMEOUT, as for a read, never an internal error."""
    user = await make_user(session)
    token = await make_token(session, user.id)
    product = await make_product(session, stock=5)
    line = {"productId": encode_id("Product", product.id), "quantity": 1}
    before = await snapshot(session)
    short = dataclasses.replace(settings, request_timeout_s=0.5)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    holder = await asyncpg.connect(dsn)
    try:
        async with _client(short, database_url) as client:
            await holder.execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
            response = await client.post(
                "/graphql",
                headers={"authorization": f"Bearer {token}"},
                json={
                    "query": "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {"
                    " order { id } userErrors { code } } }",
                    "variables": {"i": {"items": [line]}},
                },
            )
            await holder.execute("ROLLBACK")
    finally:
        await holder.close()
    body = response.json()
    assert codes(body) == ["TIMEOUT"], body
    assert body["data"] is None
    assert await snapshot(session) == before


async def test_a_saturated_pool_fails_the_excess_fast(
    settings: Settings, database_url: str
) -> None:
    small = dataclasses.replace(settings, pool_size=2, pool_timeout_ms=300)
    async with _client(small, database_url) as client:

        async def sleep() -> tuple[float, dict[str, Any]]:
            started = time.monotonic()
            response = await client.post("/graphql", json={"query": "{ sleep(seconds: 1.5) }"})
            return time.monotonic() - started, response.json()

        requests = [asyncio.ensure_future(sleep()) for _ in range(6)]
        await asyncio.sleep(0.6)
        ready = await client.get("/readyz")
        results = await asyncio.gather(*requests)
    assert ready.status_code == 503
    assert ready.json()["reason"] == "connection pool saturated"
    served = [body for _, body in results if body.get("data") == {"sleep": True}]
    refused = [(elapsed, body) for elapsed, body in results if body not in served]
    assert len(served) == 2
    assert len(refused) == 4
    for elapsed, body in refused:
        assert codes(body) == ["TIMEOUT"]
        assert elapsed < 1.2, "a refused request waited as long as the slow ones"


async def test_an_answer_over_the_size_bound_is_refused(
    settings: Settings, database_url: str, session: AsyncSession
) -> None:
    author = await make_user(session)
    for n in range(40):
        await make_post(session, author.id, title=f"post {n}", body="x" * 1000, published=True)
    query = "query($n: Int) { posts(first: $n) { edges { node { title body } } } }"
    bounded = dataclasses.replace(settings, max_response_bytes=20_000)
    async with _client(bounded, database_url) as client:
        small = await client.post("/graphql", json={"query": query, "variables": {"n": 10}})
        large = await client.post("/graphql", json={"query": query, "variables": {"n": 40}})
    assert len(small.json()["data"]["posts"]["edges"]) == 10
    assert len(small.content) < 20_000
    body = large.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "responseBytes"
    assert len(large.content) < 1_000


async def test_a_pool_timeout_inside_a_level_fails_only_its_field(
    settings: Settings, database_url: str, session: AsyncSession
) -> None:
    """The wait for a connection times out for the read that waited, not the request:
    the lean executor runs a level's reads inside one task's step."""
    await make_user(session)
    small = dataclasses.replace(settings, pool_size=2, pool_timeout_ms=300)
    async with _client(small, database_url) as client:
        holders = [
            asyncio.ensure_future(
                client.post("/graphql", json={"query": "{ sleep(seconds: 1.5) }"})
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.4)
        query = "{ a: users { totalCount } b: tags { totalCount } }"
        response = await client.post("/graphql", json={"query": query})
        await asyncio.gather(*holders)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    body = response.json()
    assert set(codes(body)) == {"TIMEOUT"}
    assert body["data"] is not None or codes(body) == ["TIMEOUT"]
