from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.types import Message

from app import build_engine, create_app
from db import migrations
from settings import ConfigError, Settings
from tests.factories import make_post, make_user


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "migration": migrations.head_revision()}


async def test_readyz_is_503_while_a_migration_is_missing(create_database: object) -> None:
    url = await create_database()  # type: ignore[operator]
    app = create_app(Settings(database_url=url), url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert "none" in response.json()["reason"]

            engine: AsyncEngine = app.state.engine
            await migrations.upgrade(engine)
            assert (await client.get("/readyz")).status_code == 200


async def test_readyz_stays_ready_when_a_newer_release_migrated_the_database(
    create_database: object,
) -> None:
    """A rolling deploy: the new release's `migrate` ran; the old instances keep serving
    (its migrations only added), where one that is behind is not ready."""
    url = await create_database()  # type: ignore[operator]
    app = create_app(Settings(database_url=url), url)
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app.state.engine
        await migrations.upgrade(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
            response = await client.get("/readyz")
            assert response.status_code == 200, response.text
            assert response.json() == {
                "ready": True,
                "migration": migrations.head_revision(),
                "databaseAhead": "f00dfeedbeef",
            }
            # Behind, at a revision this code knows but not its head: not ready.
            first = min(migrations.known_revisions() - {migrations.head_revision()})
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE alembic_version SET version_num = :v"), {"v": first}
                )
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert f"database at migration {first}" in response.json()["reason"]


@contextlib.asynccontextmanager
async def _with_no_database() -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database refuses every connection."""
    url = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"
    app = create_app(Settings(database_url=url), url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    async with _with_no_database() as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "database unreachable"}


async def test_a_signed_in_request_with_the_database_unreachable_is_503_to_retry() -> None:
    # The token cannot be looked up: a moment's outage, said as one (not a bare 500),
    # with no driver text, and named by its request id.
    async with _with_no_database() as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { username } }"},
            headers={"Authorization": "Bearer some-token"},
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    [error] = response.json()["errors"]
    assert error["message"] == "The service cannot reach its database just now; try again shortly"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "127.0.0.1" not in response.text
    assert "refused" not in response.text.lower()


async def test_readyz_is_503_while_the_listen_connection_is_down(database_url: str) -> None:
    # The database answers, but this process hears nothing other instances publish.
    nowhere = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"
    app = create_app(Settings(database_url=database_url, database_direct_url=nowhere), database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "reason": "not listening for events (the LISTEN connection is down)",
    }


async def test_graphql_answers_typename(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_engine_sets_a_statement_timeout(database_url: str) -> None:
    engine = build_engine(Settings(statement_timeout_ms=1234), database_url)
    try:
        async with engine.connect() as conn:
            value = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
    finally:
        await engine.dispose()
    assert value == "1234ms"


async def test_a_read_leaves_nothing_for_the_garbage_collector(
    settings: Settings, database_url: str, session: AsyncSession
) -> None:
    # A request whose objects form no reference cycles is freed as it ends; one that
    # leaves cycles makes the collector walk every in-flight request's objects, which
    # under load cost a third of the throughput (bench/README.md).
    author = await make_user(session, username="ada")
    await make_post(session, author.id, tags=["a", "b"])
    app = create_app(settings, database_url)
    document = (
        "{ users { edges { node { username posts { edges { node { title "
        "author { username } tags { name postCount } } } } } } } }"
    )
    plain = orjson.dumps({"query": document})
    through_strawberry = orjson.dumps({"query": document, "extensions": {}})
    async with app.router.lifespan_context(app):
        for body in (plain, through_strawberry):
            await _post(app, body)  # caches, prepared statements, pool
            gc.collect()
            gc.disable()
            try:
                answers = [await _post(app, body) for _ in range(3)]
                found = gc.collect()
            finally:
                gc.enable()
            assert all(b'"username":"ada"' in answer for answer in answers)
            assert found == 0


async def _post(app: Starlette, body: bytes) -> bytes:
    """One POST straight through the ASGI app (no client, which has cycles of its own)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_shutdown_grace_period_setting() -> None:
    assert Settings.from_env({}).shutdown_grace_s == 10
    assert Settings.from_env({"STOREFRONT_SHUTDOWN_GRACE_SECONDS": "0"}).shutdown_grace_s == 0
    with pytest.raises(ConfigError, match="STOREFRONT_SHUTDOWN_GRACE_SECONDS"):
        Settings.from_env({"STOREFRONT_SHUTDOWN_GRACE_SECONDS": "-1"})
