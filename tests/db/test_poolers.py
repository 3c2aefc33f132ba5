"""STOREFRONT_DATABASE_POOLER (db/engine.py, Pooler): every mode against PostgreSQL
itself; through Debian's PgBouncer (1.18, no prepared-statement support), which refuses
the default mode's connections, `pgbouncer-transaction` in transaction mode and
`pgbouncer` in session mode.

`pytest --pgbouncer` runs the batching, pagination and mutation tests through it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import Pooler, make_engine, make_read_pool, read
from db.read_pool import ReadPool
from tests.pgbouncer import pgbouncer

TIMEOUT_MS = 300
# Setting, as SHOW reports it: what every read and every write transaction must run under.
EXPECTED = {"statement_timeout": "300ms", "jit": "off", "random_page_cost": "1.1"}
SETTINGS_SQL = "SELECT " + ", ".join(f"current_setting('{name}') AS {name}" for name in EXPECTED)


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[str]:
    with pgbouncer(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def session_bouncer(database_url: str) -> Iterator[str]:
    # A server connection for each client connection, as session mode needs.
    with pgbouncer(database_url, pool_mode="session", server_connections=20) as url:
        yield url


class Pools:
    def __init__(self, url: str, pooler: Pooler) -> None:
        self.reads: ReadPool = make_read_pool(
            url, pool_size=6, statement_timeout_ms=TIMEOUT_MS, pooler=pooler
        )
        self.writes: AsyncEngine = make_engine(
            url, pool_size=6, statement_timeout_ms=TIMEOUT_MS, pooler=pooler
        )

    async def close(self) -> None:
        await self.reads.close()
        await self.writes.dispose()


@pytest.fixture
def target(request: pytest.FixtureRequest) -> tuple[str, Pooler]:
    """(the URL the pools connect to, their mode), from (a URL fixture's name, the mode)."""
    name, pooler = request.param
    url: str = request.getfixturevalue(name)
    return url, pooler


@pytest.fixture
async def pools(target: tuple[str, Pooler]) -> AsyncIterator[Pools]:
    made = Pools(*target)
    yield made
    await made.close()


DIRECT = [pytest.param(("database_url", pooler), id=pooler.value) for pooler in Pooler]
THROUGH_PGBOUNCER = [
    pytest.param(("bouncer", Pooler.PGBOUNCER_TRANSACTION), id="through-pgbouncer-transaction"),
    pytest.param(("session_bouncer", Pooler.PGBOUNCER), id="through-pgbouncer-session"),
]


async def _settings_of_a_read(conn: asyncpg.Connection, n: int) -> dict[str, str]:
    # Ten statement texts among the reads: under a name of their own on a connection
    # (asyncpg's cache), they would meet other clients' names on a shared server one.
    row = await conn.fetchrow(f"{SETTINGS_SQL}, $1::int + {n % 10} AS n", n)
    assert row is not None
    return {name: row[name] for name in EXPECTED}


async def _settings_of_a_write(engine: AsyncEngine, n: int) -> dict[str, str]:
    async with engine.begin() as conn:
        row = (await conn.execute(text(f"{SETTINGS_SQL}, :n + {n % 10} AS n"), {"n": n})).one()
        await conn.execute(text("SELECT CAST(:n AS integer)"), {"n": n})
    return {name: getattr(row, name) for name in EXPECTED}


@pytest.mark.parametrize("target", DIRECT + THROUGH_PGBOUNCER, indirect=True)
async def test_reads_and_writes_run_under_the_services_settings(pools: Pools) -> None:
    reads = [read(pools.reads, _settings_of_a_read, n) for n in range(60)]
    writes = [_settings_of_a_write(pools.writes, n) for n in range(20)]
    for seen in await asyncio.gather(*reads, *writes):
        assert seen == EXPECTED


@pytest.mark.parametrize("target", DIRECT + THROUGH_PGBOUNCER, indirect=True)
async def test_the_server_cancels_a_statement_past_the_timeout(pools: Pools) -> None:
    async def sleep(conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT pg_sleep(5)")

    with pytest.raises(asyncpg.QueryCanceledError):
        await read(pools.reads, sleep)
    with pytest.raises(DBAPIError, match="statement timeout"):
        async with pools.writes.begin() as conn:
            await conn.execute(text("SELECT pg_sleep(5)"))
    # Both pools carry on after it.
    assert await read(pools.reads, _settings_of_a_read, 1) == EXPECTED
    assert await _settings_of_a_write(pools.writes, 1) == EXPECTED


@pytest.mark.parametrize(
    ("pooler", "plan_cache_mode"),
    [
        (Pooler.NONE, "force_generic_plan"),
        (Pooler.PGBOUNCER, "force_generic_plan"),
        # Unnamed statements are planned at every run, best with their values.
        (Pooler.PGBOUNCER_TRANSACTION, "auto"),
    ],
)
async def test_prepared_reads_keep_one_generic_plan(
    database_url: str, pooler: Pooler, plan_cache_mode: str
) -> None:
    pool = make_read_pool(database_url, pooler=pooler)
    try:
        async with pool.connection() as conn:
            assert await conn.fetchval("SHOW plan_cache_mode") == plan_cache_mode
    finally:
        await pool.close()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(("bouncer", Pooler.NONE), id="transaction-mode"),
        pytest.param(("session_bouncer", Pooler.NONE), id="session-mode"),
    ],
    indirect=True,
)
async def test_pgbouncer_refuses_the_default_modes_connection_settings(
    target: tuple[str, Pooler],
) -> None:
    # Why the setting exists: PgBouncer, in any pool mode, takes no setting but
    # application_name (and a few others) in a connection's startup packet.
    pool = make_read_pool(target[0], pooler=target[1])
    try:
        with pytest.raises(asyncpg.PostgresError, match="unsupported startup parameter"):
            async with pool.connection():
                pass
    finally:
        await pool.close()


async def test_prepared_reads_break_behind_pgbouncer_1_18_in_transaction_mode(
    bouncer: str,
) -> None:
    # What `pgbouncer-transaction` is for: a statement asyncpg prepared in one
    # transaction is gone by the next, which PgBouncer may give another server
    # connection (and resets its own: server_reset_query_always).
    pool = make_read_pool(bouncer, pool_size=1, pooler=Pooler.PGBOUNCER)
    try:
        assert await read(pool, _settings_of_a_read, 1) == EXPECTED | {"statement_timeout": "5s"}
        with pytest.raises(asyncpg.InvalidSQLStatementNameError):
            await read(pool, _settings_of_a_read, 1)
    finally:
        await pool.close()
