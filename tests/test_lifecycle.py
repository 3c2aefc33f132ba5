"""The process's life, with real processes: a killed `serve`'s embedded PostgreSQL, and
SIGTERM while requests are running (in PostgreSQL, and in Python holding the loop)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.processes import (
    SLOW_APP,
    Served,
    env,
    no_postgres_left,
    postgres_processes,
    serving,
)

GRACE_S = 2
SLEEP = "SELECT pg_sleep($1)"  # tests/slow_app.py's sleep field, as pg_stat_activity shows it


async def test_a_killed_serves_postgresql_is_stopped_and_started_afresh(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = env(STOREFRONT_DATA_DIR=str(data_dir))
    async with serving(settings, tmp_path / "killed") as served:
        await served.ready(within_s=180)  # first start: initdb, migrate, seed
        [orphan] = postgres_processes(data_dir)
        served.process.kill()
        await asyncio.to_thread(served.process.wait, 10)
    assert postgres_processes(data_dir) == [orphan], "kill -9 took the server with it"

    async with serving(settings, tmp_path / "again") as served:
        await served.ready(within_s=60)
        assert (await served.get("/readyz")).status_code == 200
        # One postmaster: the orphan was stopped before a fresh one started.
        [fresh] = postgres_processes(data_dir)
        assert fresh != orphan
        code = await served.stop(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, served.stderr
    assert "Traceback" not in served.stderr
    assert await no_postgres_left(data_dir), "the embedded server outlived serve"
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


@pytest.fixture
async def slow_env(own_database: str) -> dict[str, str]:
    """tests/slow_app.py's settings: a migrated database of its own, a short grace
    period, and no timeout of ours that would end a slow request before SIGTERM does."""
    return env(
        DATABASE_URL=own_database,
        STOREFRONT_SHUTDOWN_GRACE_SECONDS=str(GRACE_S),
        STOREFRONT_STATEMENT_TIMEOUT_MS="60000",
        STOREFRONT_REQUEST_TIMEOUT_MS="60000",
    )


async def _sleeping(url: str) -> int:
    """How many of the app's backends are running the sleep field's statement."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active' AND query = $1",
            SLEEP,
        )
    finally:
        await conn.close()
    return int(count)


async def _post(served: Served, query: str) -> httpx.Response | httpx.TransportError:
    """The response, or the transport error of a connection closed without one."""
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            return await client.post("/graphql", json={"query": query})
    except httpx.TransportError as exc:
        return exc


async def _refused(served: Served) -> bool:
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=1) as client:
            await client.get("/healthz")
    except httpx.ConnectError:
        return True
    return False


async def _exit_after(served: Served, signum: int) -> tuple[int, float]:
    """Send `signum`; the exit status and the seconds it took to exit."""
    sent = time.monotonic()
    served.process.send_signal(signum)
    code = await asyncio.to_thread(served.process.wait, 30)
    return code, time.monotonic() - sent


async def test_sigterm_lets_requests_finish_then_cancels_a_statement_on_the_server(
    slow_env: dict[str, str], tmp_path: Path
) -> None:
    async with serving(slow_env, tmp_path, SLOW_APP) as served:
        await served.ready(within_s=60)
        finishes = asyncio.create_task(_post(served, "{ sleep(seconds: 1) }"))
        overruns = asyncio.create_task(_post(served, "{ sleep(seconds: 30) }"))
        for _ in range(100):
            if await _sleeping(slow_env["DATABASE_URL"]) == 2:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the two sleeps never showed in pg_stat_activity")

        exiting = asyncio.create_task(_exit_after(served, signal.SIGTERM))
        await asyncio.sleep(0.5)
        assert await _refused(served), "a new connection was accepted after SIGTERM"
        code, took = await exiting

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    finished = await finishes
    assert isinstance(finished, httpx.Response), finished
    assert finished.json() == {"data": {"sleep": True}}
    cut_off = await asyncio.wait_for(overruns, 5)
    # uvicorn answers a request cancelled at the end of the grace period with a 500.
    assert isinstance(cut_off, httpx.TransportError) or cut_off.status_code == 500, cut_off
    assert await _sleeping(slow_env["DATABASE_URL"]) == 0, "the sleep outlived serve"


async def test_sigterm_ends_a_request_busy_in_python_that_holds_the_event_loop(
    slow_env: dict[str, str], tmp_path: Path
) -> None:
    async with serving(slow_env, tmp_path, SLOW_APP) as served:
        await served.ready(within_s=60)
        spinning = asyncio.create_task(_post(served, "{ spin(seconds: 60) }"))
        await asyncio.sleep(0.5)
        with pytest.raises(httpx.TimeoutException):  # the loop is held: nothing answers
            async with httpx.AsyncClient(base_url=served.url, timeout=1) as client:
                await client.get("/healthz")

        code, took = await _exit_after(served, signal.SIGTERM)

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    cut_off = await asyncio.wait_for(spinning, 5)
    assert isinstance(cut_off, httpx.TransportError) or cut_off.status_code == 500, cut_off
    assert "grace period over" in served.stderr
