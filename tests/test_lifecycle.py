"""The process's life, with real processes: a killed `serve`'s embedded PostgreSQL,
SIGTERM while requests are running (in PostgreSQL, and in Python holding the loop), and
`serve --workers 2` under a mixed load and at SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]
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
WORKERS = ("--workers", "2")


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


async def _until_sleeping(url: str, count: int) -> None:
    for _ in range(100):
        if await _sleeping(url) == count:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{count} sleeps never showed in pg_stat_activity")


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


async def test_sigterm_lets_requests_finish_then_cancels_a_statement_on_the_server(
    slow_env: dict[str, str], tmp_path: Path
) -> None:
    async with serving(slow_env, tmp_path, SLOW_APP) as served:
        await served.ready(within_s=60)
        finishes = asyncio.create_task(_post(served, "{ sleep(seconds: 1) }"))
        overruns = asyncio.create_task(_post(served, "{ sleep(seconds: 30) }"))
        await _until_sleeping(slow_env["DATABASE_URL"], 2)

        exiting = asyncio.create_task(served.exit_after(signal.SIGTERM))
        await asyncio.sleep(0.5)
        assert await _refused(served), "a new connection was accepted after SIGTERM"
        code, took = await exiting

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    finished = await finishes
    assert isinstance(finished, httpx.Response), finished
    assert finished.json() == {"data": {"sleep": True}}
    cut_off = await asyncio.wait_for(overruns, 5)
    # Cut off at the end of the grace period: an answer naming the request, as any error.
    assert isinstance(cut_off, httpx.Response), cut_off
    assert cut_off.status_code == 503, cut_off.text
    request_id = cut_off.headers["x-request-id"]
    [error] = cut_off.json()["errors"]
    assert error["extensions"] == {"code": "TIMEOUT", "requestId": request_id}
    assert f"request {request_id} cut off by the shutdown" in served.stderr
    assert "Traceback" not in served.stderr
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

        code, took = await served.exit_after(signal.SIGTERM)

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    cut_off = await asyncio.wait_for(spinning, 5)
    assert isinstance(cut_off, httpx.TransportError) or cut_off.status_code == 500, cut_off
    assert "grace period over" in served.stderr


FEED = "{ posts(first: 10) { edges { node { title author { username } tags { name } } } } }"
CREATE = """mutation Create($input: CreatePostInput!) {
  createPost(input: $input) { post { id title } userErrors { message } }
}"""
CLIENTS = 16
ROUNDS = 8


async def _admin_token(served: Served, data_dir: Path) -> str:
    username, password = (data_dir / "demo-login.txt").read_text().split()
    login = {"login": username, "password": password}
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
                "variables": {"input": login},
            },
        )
    token: str = response.json()["data"]["logIn"]["token"]
    return token


async def _mixed_load(served: Served, token: str, client_number: int) -> list[str]:
    """Queries and mutations in turn, each on a new connection (so that each may land on
    either worker); returns what went wrong."""
    problems = []
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    async with httpx.AsyncClient(base_url=served.url, timeout=30, headers=headers) as client:
        for round_number in range(ROUNDS):
            post = {
                "title": f"w{client_number}-{round_number}",
                "body": "b",
                "tags": ["served-by-workers"],
            }
            for body in (
                {"query": FEED},
                {"query": CREATE, "variables": {"input": {**post, "published": True}}},
            ):
                response = await client.post("/graphql", json=body)
                answer = response.json()
                payload = answer.get("data", {}).get("createPost", {"userErrors": []})
                if response.status_code != 200 or "errors" in answer or payload["userErrors"]:
                    problems.append(f"{response.status_code} {answer}")
    return problems


async def _watch(workers: list[int], port: int, seen: set[int]) -> None:
    """Add to `seen` each worker that holds a client's connection to `port`."""

    def look() -> None:
        for pid in workers:
            connections = psutil.Process(pid).net_connections(kind="tcp")
            if any(
                c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in connections
            ):
                seen.add(pid)

    while True:
        await asyncio.to_thread(look)
        await asyncio.sleep(0.02)


async def test_two_workers_share_a_mixed_load_and_stop_with_the_embedded_postgresql(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = env(
        STOREFRONT_DATA_DIR=str(data_dir), STOREFRONT_SHUTDOWN_GRACE_SECONDS=str(GRACE_S)
    )
    async with serving(settings, tmp_path, args=WORKERS) as served:
        await served.ready(within_s=180)  # first start: initdb, migrate, seed
        workers = await served.workers()
        assert len(postgres_processes(data_dir)) == 1, "each worker started a PostgreSQL"
        token = await _admin_token(served, data_dir)
        seen: set[int] = set()
        watching = asyncio.create_task(_watch(workers, served.port, seen))
        try:
            loads = [_mixed_load(served, token, n) for n in range(CLIENTS)]
            problems = [problem for found in await asyncio.gather(*loads) for problem in found]
        finally:
            watching.cancel()
        assert problems == []
        assert seen == set(workers), "a worker served no request"
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            query = '{ tag(name: "served-by-workers") { postCount } }'
            answer = (await client.post("/graphql", json={"query": query})).json()
        assert answer == {"data": {"tag": {"postCount": CLIENTS * ROUNDS}}}

        code, took = await served.exit_after(signal.SIGTERM)

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    assert not [pid for pid in workers if psutil.pid_exists(pid)], "a worker outlived serve"
    assert await no_postgres_left(data_dir), "the embedded server outlived serve"
    assert "Traceback" not in served.stderr


async def test_sigterm_stops_every_worker_within_the_grace_period(
    slow_env: dict[str, str], tmp_path: Path
) -> None:
    async with serving(slow_env, tmp_path, SLOW_APP, args=WORKERS) as served:
        await served.ready(within_s=60)
        workers = await served.workers()
        # One worker's event loop held in Python; the other worker takes the sleeps.
        spinning = asyncio.create_task(_post(served, "{ spin(seconds: 60) }"))
        await asyncio.sleep(0.5)
        sleeps = [asyncio.create_task(_post(served, "{ sleep(seconds: 30) }")) for _ in range(2)]
        await _until_sleeping(slow_env["DATABASE_URL"], 2)

        code, took = await served.exit_after(signal.SIGTERM)

    assert code == 128 + signal.SIGTERM, served.stderr
    assert took < GRACE_S + 1, f"exited {took:.1f} s after SIGTERM"
    spun, *slept = await asyncio.wait_for(asyncio.gather(spinning, *sleeps), 5)
    assert isinstance(spun, httpx.TransportError) or spun.status_code == 500, spun
    for cut_off in slept:
        # Waiting in PostgreSQL, not holding their loop: answered as the grace ends.
        assert isinstance(cut_off, httpx.Response), cut_off
        assert cut_off.status_code == 503, cut_off.text
        assert cut_off.headers["x-request-id"]
    assert "grace period over" in served.stderr  # the spinning worker's watchdog
    assert await _sleeping(slow_env["DATABASE_URL"]) == 0, "a sleep outlived serve"
    assert not [pid for pid in workers if psutil.pid_exists(pid)], "a worker outlived serve"


async def test_a_worker_that_dies_stops_the_others(
    slow_env: dict[str, str], tmp_path: Path
) -> None:
    async with serving(slow_env, tmp_path, args=WORKERS) as served:
        await served.ready(within_s=60)
        dying, other = await served.workers()
        psutil.Process(dying).kill()
        code = await asyncio.to_thread(served.process.wait, GRACE_S + 5)

    assert code == 1, served.stderr
    assert f"(process {dying}) exited with status -9" in served.stderr
    assert not psutil.pid_exists(other), "the other worker outlived serve"
