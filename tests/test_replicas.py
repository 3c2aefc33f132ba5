"""Read replicas with read-your-writes, on a real primary and streaming replica.

Which server ran a statement is read from pg_stat_statements on each. The replica is
started by tests/replication.py (`pg_basebackup -R`); its replay is paused to make it
fall behind on purpose, and it is stopped to show reads surviving it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import build_engine, create_app
from db import migrations
from db.engine import Pooler, make_sessionmaker
from db.replicas import Replicas, parse_lsn
from settings import Settings
from tests.conftest import TABLES
from tests.factories import make_post, make_token, make_user
from tests.pgbouncer import pgbouncer
from tests.replication import Server, free_port, primary_and_replica

HEADER = "x-storefront-consistency"
CREATE = """mutation($title: String!) {
  createPost(input: {title: $title, body: "b", published: true}) {
    post { title } userErrors { code }
  }
}"""
TITLES = "{ posts(first: 50) { edges { node { title } } } }"
VIEWER = "{ viewer { username } }"
# The reads of posts, as pg_stat_statements shows them (the insert has no FROM).
READS_POSTS = "%from posts%"
INSERTS_POSTS = "insert into posts%"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    with primary_and_replica() as pair:
        yield pair


@pytest.fixture(scope="module")
async def primary_engine(servers: tuple[Server, Server]) -> AsyncIterator[AsyncEngine]:
    primary, _ = servers
    await _fetch(primary.dsn(), "CREATE DATABASE storefront")
    await _fetch(primary.dsn("storefront"), "CREATE EXTENSION pg_stat_statements")
    engine = build_engine(Settings(), primary.url("storefront"))
    await migrations.upgrade(engine)
    await caught_up(servers)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(primary_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """For factories, on the primary; every table is emptied after the test."""
    async with make_sessionmaker(primary_engine)() as session:
        yield session
    async with primary_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@contextlib.asynccontextmanager
async def serving(
    primary: Server,
    *replicas: str,
    max_lag_ms: int = 60_000,
    primary_url: str | None = None,
    pooler: Pooler = Pooler.NONE,
) -> AsyncIterator[tuple[httpx.AsyncClient, Replicas]]:
    """The app on `primary` (reached at `primary_url`, by default directly) with
    `replicas`, each checked once (up if it answers)."""
    direct = primary.url("storefront")
    url = primary_url or direct
    settings = Settings(
        database_url=url,
        replica_urls=replicas,
        replica_max_lag_ms=max_lag_ms,
        database_pooler=pooler,
        database_direct_url=direct,
    )
    app = create_app(settings, url)
    async with app.router.lifespan_context(app):
        routing: Replicas = app.state.replicas
        await routing.check()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, routing


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    consistency: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if consistency is not None:
        headers[HEADER] = consistency
    body = {"query": query, "variables": variables or {}}
    return await client.post("/graphql", json=body, headers=headers)


async def titles(client: httpx.AsyncClient, consistency: str | None = None) -> set[str]:
    response = await post(client, TITLES, consistency=consistency)
    assert response.status_code == 200, response.text
    edges = response.json()["data"]["posts"]["edges"]
    return {edge["node"]["title"] for edge in edges}


async def _fetch(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def calls(server: Server, pattern: str) -> int:
    """How many statements whose text matches `pattern` the server has run."""
    sql = "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE $1"
    return int(await _fetch(server.dsn("storefront"), sql, pattern))


async def caught_up(servers: tuple[Server, Server], within_s: float = 10.0) -> None:
    """Wait until the replica has replayed everything the primary has flushed."""
    primary, replica = servers
    target = await _fetch(primary.dsn(), "SELECT pg_current_wal_flush_lsn()")
    async with asyncio.timeout(within_s):
        # Polled: a replica announces nothing.
        while await _fetch(replica.dsn(), "SELECT pg_last_wal_replay_lsn()") < target:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def replay_paused(replica: Server) -> AsyncIterator[None]:
    await _fetch(replica.dsn(), "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        await _fetch(replica.dsn(), "SELECT pg_wal_replay_resume()")


async def signed_in(session: AsyncSession) -> str:
    user = await make_user(session, username="writer")
    return await make_token(session, user.id)


@dataclass
class Rig:
    """Both servers, a session on the primary for factories, and the app to serve on them."""

    primary: Server
    replica: Server
    session: AsyncSession

    async def caught_up(self) -> None:
        await caught_up((self.primary, self.replica))

    def serve(
        self, *replicas: str, max_lag_ms: int = 60_000
    ) -> AbstractAsyncContextManager[tuple[httpx.AsyncClient, Replicas]]:
        """The app with `replicas` (by default, the replica)."""
        urls = replicas or (self.replica.url("storefront"),)
        return serving(self.primary, *urls, max_lag_ms=max_lag_ms)

    @contextlib.asynccontextmanager
    async def serve_behind(
        self, pooler: Pooler
    ) -> AsyncIterator[tuple[httpx.AsyncClient, Replicas]]:
        """The app with the replica, each server behind a PgBouncer of its own in
        transaction mode (1.18: no prepared statement outlives a transaction) unless
        `pooler` is NONE; the LISTEN connection goes to the primary itself."""
        if pooler is Pooler.NONE:
            async with self.serve() as served:
                yield served
            return
        with (
            pgbouncer(self.primary.url("storefront")) as primary_url,
            pgbouncer(self.replica.url("storefront")) as replica_url,
        ):
            async with serving(
                self.primary, replica_url, primary_url=primary_url, pooler=pooler
            ) as served:
                yield served

    async def post_titled(self, title: str) -> None:
        await make_post(self.session, (await make_user(self.session)).id, title=title)


@pytest.fixture
def rig(servers: tuple[Server, Server], session: AsyncSession) -> Rig:
    return Rig(*servers, session)


async def test_queries_read_the_replica_and_mutations_write_the_primary(rig: Rig) -> None:
    primary, replica = rig.primary, rig.replica
    token = await signed_in(rig.session)
    await rig.caught_up()
    async with rig.serve() as (client, _):
        inserts = await calls(primary, INSERTS_POSTS)
        created = await post(client, CREATE, {"title": "First"}, token=token)
        assert created.json()["data"]["createPost"]["userErrors"] == []
        assert await calls(primary, INSERTS_POSTS) == inserts + 1

        # Every mutation's answer carries its token, in the body and in a header.
        consistency = created.json()["extensions"]["consistencyToken"]
        assert created.headers[HEADER] == consistency
        assert parse_lsn(consistency) is not None

        await rig.caught_up()
        on_primary = await calls(primary, READS_POSTS)
        on_replica = await calls(replica, READS_POSTS)
        assert await titles(client) == {"First"}
        assert await calls(replica, READS_POSTS) > on_replica
        assert await calls(primary, READS_POSTS) == on_primary


# STOREFRONT_DATABASE_POOLER applies to the replicas' pools as to the primary's.
@pytest.mark.parametrize("pooler", [Pooler.NONE, Pooler.PGBOUNCER_TRANSACTION], ids=str)
async def test_a_fresh_token_is_answered_with_the_new_data_while_the_replica_lags(
    rig: Rig, pooler: Pooler
) -> None:
    primary, replica = rig.primary, rig.replica
    token = await signed_in(rig.session)
    await rig.post_titled("Old")
    await rig.caught_up()
    async with rig.serve_behind(pooler) as (client, routing):
        async with replay_paused(replica):
            created = await post(client, CREATE, {"title": "New"}, token=token)
            consistency = created.headers[HEADER]

            on_primary = await calls(primary, READS_POSTS)
            on_replica = await calls(replica, READS_POSTS)
            assert await titles(client, consistency) == {"Old", "New"}
            assert await calls(primary, READS_POSTS) > on_primary
            assert await calls(replica, READS_POSTS) == on_replica

            # Without the token, the replica (lagging, but within the setting) answers.
            assert await titles(client) == {"Old"}
            assert await calls(replica, READS_POSTS) > on_replica

        async with asyncio.timeout(10):
            while routing.replicas[0].replayed < (parse_lsn(consistency) or 0):
                await routing.check()
                await asyncio.sleep(0.02)
        # Once the replica has replayed past the token, the token reads from it again.
        on_replica = await calls(replica, READS_POSTS)
        assert await titles(client, consistency) == {"Old", "New"}
        assert await calls(replica, READS_POSTS) > on_replica


async def test_a_sign_out_is_refused_at_once_while_the_replica_lags(rig: Rig) -> None:
    token = await signed_in(rig.session)
    await rig.caught_up()
    async with rig.serve() as (client, _):
        assert (await post(client, VIEWER, token=token)).json()["data"]["viewer"] is not None
        async with replay_paused(rig.replica):
            signed_out = await post(client, "mutation { logOut }", token=token)
            assert signed_out.json()["data"] == {"logOut": True}
            refused = (await post(client, VIEWER, token=token)).json()
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_replica_lagging_past_the_setting_is_skipped(rig: Rig) -> None:
    await rig.caught_up()
    async with rig.serve(max_lag_ms=0) as (client, routing), replay_paused(rig.replica):
        await rig.post_titled("Unseen by the replica")
        await routing.check()
        assert routing.replicas[0].lag_s > 0
        assert await titles(client) == {"Unseen by the replica"}


async def test_reads_succeed_with_the_replica_stopped(rig: Rig) -> None:
    replica = rig.replica
    await rig.post_titled("Kept")
    await rig.caught_up()
    async with rig.serve() as (client, routing):
        assert await titles(client) == {"Kept"}  # a pooled connection to the replica now
        await asyncio.to_thread(replica.stop)
        try:
            # The pooled connection is dead, and no new one can be made: the primary answers.
            assert await titles(client) == {"Kept"}
            assert await titles(client) == {"Kept"}
            assert not routing.replicas[0].up
        finally:
            await asyncio.to_thread(replica.start)
        await rig.caught_up()
        await routing.check()
        on_replica = await calls(replica, READS_POSTS)
        assert await titles(client) == {"Kept"}
        assert await calls(replica, READS_POSTS) > on_replica


async def test_reads_succeed_with_a_replica_that_never_answered(rig: Rig) -> None:
    await rig.post_titled("Kept")
    await rig.caught_up()
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/storefront"
    async with rig.serve(nowhere, rig.replica.url("storefront")) as (client, routing):
        assert [r.up for r in routing.replicas] == [False, True]
        for _ in range(4):
            assert await titles(client) == {"Kept"}
        # Ready: with no replica at all the primary would answer. /readyz tells how many serve.
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["replicas"] == {"configured": 2, "usable": 1}


async def test_a_malformed_token_is_bad_user_input(rig: Rig) -> None:
    async with rig.serve() as (client, _):
        for malformed in ("yesterday", "0/", "1/2/3", "G/0", "0/123456789"):
            response = await post(client, TITLES, consistency=malformed)
            assert response.status_code == 400
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_without_replicas_a_mutation_carries_no_token(client: httpx.AsyncClient) -> None:
    signed_up = await post(
        client,
        'mutation { signUp(input: {username: "solo", email: "solo@example.com",'
        ' password: "correct horse battery"}) { token } }',
    )
    assert signed_up.json()["data"]["signUp"]["token"]
    assert "consistencyToken" not in signed_up.json().get("extensions", {})
    assert HEADER not in signed_up.headers
    # A token is still checked, so a client's mistake shows wherever it runs.
    assert (await post(client, TITLES, consistency="0/1")).status_code == 200
    assert (await post(client, TITLES, consistency="latest")).status_code == 400
