"""The read pool on a real server: first come first served, nothing lost on failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.engine import make_read_pool
from db.read_pool import PoolClosedError, ReadPool


@pytest.fixture
async def pool_of_one(database_url: str) -> AsyncIterator[ReadPool]:
    pool = make_read_pool(database_url, pool_size=1, max_overflow=0)
    yield pool
    await pool.close()


async def _backend(pool: ReadPool) -> int:
    async with pool.connection() as conn:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def test_connections_open_on_demand_up_to_the_size(database_url: str) -> None:
    pool = make_read_pool(database_url, pool_size=2, max_overflow=0)
    try:
        first, second = await pool.acquire(), await pool.acquire()
        third = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        assert not third.done()  # two are open, both in use

        pool.release(first)
        assert await third is first
        pool.release(second)
        pool.release(first)
        assert len({await _backend(pool) for _ in range(5)}) == 1  # reused, most recent first
    finally:
        await pool.close()


async def test_waiters_are_served_in_arrival_order(pool_of_one: ReadPool) -> None:
    held = await pool_of_one.acquire()
    served: list[str] = []

    async def wait(name: str) -> None:
        async with pool_of_one.connection():
            served.append(name)
            await asyncio.sleep(0)

    waiters = [asyncio.create_task(wait(name)) for name in ("a", "b", "c")]
    await asyncio.sleep(0.01)
    # Scheduled before the release, so it runs before the first waiter wakes: a
    # queue of free connections would let it take the one released for "a".
    late = asyncio.create_task(wait("late"))
    pool_of_one.release(held)
    await asyncio.gather(*waiters, late)
    assert served == ["a", "b", "c", "late"]


async def test_a_waiter_that_gives_up_loses_no_connection(pool_of_one: ReadPool) -> None:
    held = await pool_of_one.acquire()
    gives_up = asyncio.create_task(pool_of_one.acquire())
    await asyncio.sleep(0.01)
    gives_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    pool_of_one.release(held)
    async with asyncio.timeout(5):
        assert await _backend(pool_of_one) > 0


async def test_a_statement_cancelled_midway_costs_its_connection_not_the_pool(
    pool_of_one: ReadPool,
) -> None:
    before = await _backend(pool_of_one)

    async def slow() -> None:
        async with pool_of_one.connection() as conn:
            await conn.execute("SELECT pg_sleep(10)")

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):
        after = await _backend(pool_of_one)
    assert after != before  # the cancelled one was closed, a new one opened


async def test_a_server_error_keeps_the_connection(pool_of_one: ReadPool) -> None:
    before = await _backend(pool_of_one)
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with pool_of_one.connection() as conn:
            await conn.fetchval("SELECT 1 / 0")
    assert await _backend(pool_of_one) == before


async def test_a_failed_connect_frees_its_place(database_url: str) -> None:
    real = make_read_pool(database_url, pool_size=1, max_overflow=0)
    attempts = 0

    async def flaky() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionRefusedError("database starting")
        return await real._connect()

    pool = ReadPool(flaky, size=1, wait_timeout=real.wait_timeout)
    try:
        with pytest.raises(ConnectionRefusedError):
            await pool.acquire()
        assert await _backend(pool) > 0
    finally:
        await pool.close()


async def test_idle_connections_are_closed_after_the_timeout(pool_of_one: ReadPool) -> None:
    pool_of_one.idle_timeout = 0.05
    conn = await pool_of_one.acquire()
    pool_of_one.release(conn)
    await asyncio.sleep(0.3)
    assert conn.is_closed()
    assert await _backend(pool_of_one) > 0  # its place was freed for a new one


async def test_closing_fails_waiters_and_later_checkouts(database_url: str) -> None:
    pool = make_read_pool(database_url, pool_size=1, max_overflow=0)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)

    await pool.close()
    with pytest.raises(PoolClosedError):
        await waiter
    with pytest.raises(PoolClosedError):
        await pool.acquire()
    pool.release(held)  # closed as it comes back
    await asyncio.sleep(0.1)
    assert held.is_closed()


async def _running_within(database_url: str, sql: str, count: int, *, within_s: float) -> bool:
    """Whether, within `within_s`, exactly `count` backends run `sql` on the test server."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    deadline = time.monotonic() + within_s
    try:
        while True:
            running = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1",
                sql,
            )
            if running == count:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_a_cancelled_statement_stops_on_the_server(
    pool_of_one: ReadPool, database_url: str
) -> None:
    sql = "SELECT pg_sleep(30) -- cancelled midway"

    async def slow() -> None:
        async with pool_of_one.connection() as conn:
            await conn.execute(sql)

    task = asyncio.create_task(slow())
    assert await _running_within(database_url, sql, 1, within_s=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Not left to run on until statement_timeout: the server was told to cancel it.
    assert await _running_within(database_url, sql, 0, within_s=1), "still running"


async def test_closing_waits_a_while_for_lent_connections(database_url: str) -> None:
    pool = make_read_pool(database_url, pool_size=1, max_overflow=0)
    held = await pool.acquire()
    asyncio.get_running_loop().call_later(0.1, pool.release, held)
    await pool.close(wait_for_lent_s=5)
    assert held.is_closed()  # given back while the pool waited, and closed before it returned


async def test_a_share_holds_at_most_its_limit_of_connections(read_pool: ReadPool) -> None:
    share = read_pool.share()
    limit = max(1, read_pool.size // 2)
    busy = 0
    most = 0

    async def sleep() -> None:
        nonlocal busy, most
        async with share.connection() as conn:
            busy += 1
            most = max(most, busy)
            await conn.execute("SELECT pg_sleep(0.05)")
            busy -= 1

    await asyncio.gather(*(sleep() for _ in range(limit * 3)))
    assert most == limit
