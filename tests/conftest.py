"""A real PostgreSQL for the suite: embedded (or TEST_DATABASE_URL), migrated by Alembic.

Isolation: every test starts on empty tables (truncated after each test), so
tests may use as many connections as they like, as the app itself does.

`pytest --pgbouncer`: the app's pools (the `engine`, `read_pool` and `client` fixtures)
reach the database through PgBouncer in transaction mode (tests/pgbouncer.py), with
STOREFRONT_DATABASE_POOLER=pgbouncer-transaction; migrations and databases are made directly.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import build_engine, build_read_pool, create_app
from db import embedded, migrations
from db.engine import Pooler, make_sessionmaker
from db.models import Base
from db.notify import EVENTS, make_listener
from db.read_pool import ReadPool
from db.statement_counter import StatementLog, counting
from schema.context import Services
from schema.events import Event, decode
from schema.relationships import relationship_of
from settings import Settings
from tests.pgbouncer import pgbouncer
from tests.processes import kill_postgres

TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pgbouncer",
        action="store_true",
        help="run the app's database traffic through PgBouncer in transaction mode",
    )


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An asyncpg URL of a server (and a database on it) the suite may create databases on."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured.replace("postgresql://", "postgresql+asyncpg://", 1)
        return
    with tempfile.TemporaryDirectory(prefix="storefront-pg-") as folder:
        data = Path(folder) / "data"
        try:
            yield embedded.start(data)
        finally:
            embedded.stop(data)


async def _admin(url: str, sql: str) -> None:
    parsed = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(parsed.render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def create_database(server_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes empty databases on the test server; drops them at the end of the run."""
    made: list[str] = []

    async def create() -> str:
        name = f"storefront_test_{uuid.uuid4().hex[:10]}"
        await _admin(server_url, f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield create
    for name in made:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrated(create_database: Callable[[], Awaitable[str]]) -> str:
    url = await create_database()
    engine = build_engine(Settings(), url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def database_url(create_database: Callable[[], Awaitable[str]]) -> str:
    return await _migrated(create_database)


@pytest.fixture
async def own_database(create_database: Callable[[], Awaitable[str]]) -> str:
    """A migrated database of the test's own (for a `serve` in a child process)."""
    return await _migrated(create_database)


@pytest.fixture(scope="session")
def pooler(request: pytest.FixtureRequest) -> Pooler:
    """What stands between the app's pools and the database in this run."""
    return Pooler.PGBOUNCER_TRANSACTION if request.config.getoption("--pgbouncer") else Pooler.NONE


@pytest.fixture(scope="session")
def app_database_url(database_url: str, pooler: Pooler) -> Iterator[str]:
    """Where the app's pools connect: the test database, or PgBouncer in front of it."""
    if pooler is Pooler.NONE:
        yield database_url
        return
    # Fewer server connections than the app's pools hold client ones, so transactions
    # of different clients take turns on each; enough that a test holding a transaction
    # open while the app serves a request never waits on itself.
    with pgbouncer(database_url, server_connections=5, required=True) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, app_database_url: str, pooler: Pooler) -> Settings:
    # The LISTEN connection reaches the database itself, as DATABASE_DIRECT_URL has it.
    direct = None if pooler is Pooler.NONE else database_url
    return Settings(
        database_url=app_database_url,
        graphiql=True,
        database_pooler=pooler,
        database_direct_url=direct,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings, app_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(settings, app_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def read_pool(settings: Settings, app_database_url: str) -> AsyncIterator[ReadPool]:
    pool = build_read_pool(settings, app_database_url)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "engine" in request.fixturenames:
        engine: AsyncEngine = request.getfixturevalue("engine")
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """For factories and checks; factories commit, so the app's own connections see rows."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def services(read_pool: ReadPool, sessionmaker: async_sessionmaker[AsyncSession]) -> Services:
    return Services(read_pool=read_pool, sessionmaker=sessionmaker)


@pytest.fixture
async def client(
    settings: Settings, app_database_url: str, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, app_database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


GraphQL = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    """POST a document; returns the decoded response body."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run


Counted = Callable[..., Awaitable[tuple[dict[str, Any], StatementLog]]]


@pytest.fixture
def counted(gql: GraphQL) -> Counted:
    """Like `gql`, and also returns the SQL statements the request ran."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> tuple[dict[str, Any], StatementLog]:
        with counting() as log:
            body = await gql(query, variables, token=token)
        assert "errors" not in body, body
        return body, log

    return run


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """STOREFRONT_DATA_DIR for an embedded server; any server left behind is stopped."""
    folder = tmp_path / "data"
    yield folder
    kill_postgres(folder)


def codes(body: dict[str, Any]) -> list[str]:
    """The `extensions.code` of each error in a response body, in order."""
    return [error["extensions"]["code"] for error in body.get("errors", ())]


def replace_read(
    monkeypatch: pytest.MonkeyPatch, owner: type, field: str, read: Callable[..., Any]
) -> None:
    """Serve `owner.field` (a root list, schema/relationships.py) from `read` instead of
    the db/ read its declaration names, for the rest of the test."""
    declared = relationship_of(owner.__strawberry_definition__.get_field(field))  # type: ignore[attr-defined]
    assert declared is not None, f"{owner.__name__}.{field} is not a declared relationship"
    monkeypatch.setattr(declared, "pages", read)


@pytest.fixture
async def published(database_url: str) -> AsyncIterator[asyncio.Queue[Event | None]]:
    """The events the mutations publish, as another instance hears them (NOTIFY)."""
    heard: asyncio.Queue[Event | None] = asyncio.Queue()
    listener = make_listener(database_url)
    listener.on(EVENTS, lambda payload: heard.put_nowait(decode(payload)))
    await listener.start(wait_s=5)
    assert listener.listening
    yield heard
    await listener.stop()
