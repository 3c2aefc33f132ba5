from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import Settings, build_engine, create_app
from db import migrations


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


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    url = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"
    app = create_app(Settings(database_url=url), url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "database unreachable"}


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
