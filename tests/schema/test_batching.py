"""The promise the service exists for: statements depend on the query's shape, not its rows."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db import users
from db.engine import Pooler, make_engine, read
from db.models import OrderStatus
from db.read_pool import ReadPool
from db.statement_counter import counting
from tests.conftest import Counted
from tests.factories import make_order, make_post, make_product, make_token, make_user

FEED = """
query Feed($n: Int!) {
  posts(first: $n) { edges { node { title author { username } tags { name } } } }
}
"""


async def _authors_with_posts(session: AsyncSession, authors: int, posts_each: int) -> None:
    for a in range(authors):
        user = await make_user(session, username=f"author{a:02d}")
        for p in range(posts_each):
            await make_post(session, user.id, tags=[f"t{p % 4}", f"u{a % 3}"])


async def test_feed_runs_one_statement_per_level_whatever_the_page_size(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors_with_posts(session, authors=10, posts_each=6)

    small, small_log = await counted(FEED, {"n": 2})
    large, large_log = await counted(FEED, {"n": 50})

    assert len(small["data"]["posts"]["edges"]) == 2
    assert len(large["data"]["posts"]["edges"]) == 50
    # the posts, with their authors and tags joined (db/post_relations.py)
    assert small_log.count == large_log.count == 1


async def test_total_count_costs_one_statement_and_only_when_asked(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors_with_posts(session, authors=3, posts_each=4)
    query = "{ posts(first: 5) { totalCount edges { node { title } } } }"

    body, log = await counted(query)

    assert body["data"]["posts"]["totalCount"] == 12
    assert log.count == 2
    _, without = await counted("{ posts(first: 5) { edges { node { title } } } }")
    assert without.count == 1


async def test_users_posts_tags_is_one_statement_per_level_for_all_users(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors_with_posts(session, authors=20, posts_each=7)
    query = """{ users(first: 20) { edges { node { username
        posts(first: 5) { totalCount edges { node { title tags { name } } } } } } } }"""

    body, log = await counted(query)

    users = body["data"]["users"]["edges"]
    assert len(users) == 20
    assert all(len(u["node"]["posts"]["edges"]) == 5 for u in users)
    assert all(u["node"]["posts"]["totalCount"] == 7 for u in users)
    # users with the 20 pages of posts and their tags (read ahead: one statement), the
    # 20 counts
    assert log.count == 2


async def test_tags_posts_author_is_one_statement_per_level(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors_with_posts(session, authors=6, posts_each=5)
    query = """{ tags(first: 20) { edges { node { name postCount
        posts(first: 3) { edges { node { title author { username } } } } } } } }"""

    body, log = await counted(query)

    tags = body["data"]["tags"]["edges"]
    assert len(tags) == 7
    assert all(len(t["node"]["posts"]["edges"]) == min(3, t["node"]["postCount"]) for t in tags)
    # tags, their counts, their pages of posts with the posts' authors
    assert log.count == 3


async def test_orders_with_items_and_products_is_one_statement_per_level(
    session: AsyncSession, counted: Counted
) -> None:
    admin = await make_user(session, is_admin=True)
    token = await make_token(session, admin.id)
    products = [await make_product(session, price="1.50") for _ in range(5)]
    for n in range(25):
        customer = await make_user(session)
        lines = [(products[(n + k) % 5], k + 1) for k in range(3)]
        await make_order(session, customer.id, lines, status=OrderStatus.PAID)
    query = """{ orders(first: 20) { edges { node { status customer { username }
        items { quantity unitPrice product { name unitsSold } } itemCount total } } } }"""

    body, log = await counted(query, token=token)

    orders = body["data"]["orders"]["edges"]
    assert len(orders) == 20
    assert all(o["node"]["itemCount"] == 6 and o["node"]["total"] == "9.00" for o in orders)
    # the token, orders with their customers, totals and items (with their
    # products), units sold
    assert log.count == 3


async def test_user_orders_items_is_one_statement_per_level(
    session: AsyncSession, counted: Counted
) -> None:
    customer = await make_user(session, username="carol")
    token = await make_token(session, customer.id)
    product = await make_product(session)
    for _ in range(12):
        await make_order(session, customer.id, [(product, 2)])
    query = """{ user(username: "carol") { orders(first: 10) { totalCount
        edges { node { items { quantity product { sku } } } } } } }"""

    body, log = await counted(query, token=token)

    orders = body["data"]["user"]["orders"]
    assert orders["totalCount"] == 12
    assert len(orders["edges"]) == 10
    # the token, the user, the page of orders with their items, its count
    assert log.count == 4


async def test_node_batches_every_id_of_a_type(session: AsyncSession, counted: Counted) -> None:
    author = await make_user(session)
    posts = [await make_post(session, author.id) for _ in range(8)]
    from schema.ids import encode_id

    ids = [encode_id("Post", p.id) for p in posts] + [encode_id("User", author.id)]
    body, log = await counted("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})

    assert [n["id"] for n in body["data"]["nodes"]] == ids
    assert log.count == 2


async def test_root_lookups_side_by_side_share_one_statement(
    session: AsyncSession, counted: Counted, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lookup alone on its level is read without a loader (Loaders.load_alone), and
    # the level is not gathered at all (Run._lookup); two side by side still batch
    # into one statement, and `node` joins `post`'s read.
    from schema.executor import run
    from schema.executor.eager import gather_eagerly
    from schema.ids import encode_id

    gathered: list[int] = []

    def recording(awaitables: Any, claim: Any = None) -> Any:
        gathered.append(len(awaitables))
        return gather_eagerly(awaitables, claim)

    monkeypatch.setattr(run, "gather_eagerly", recording)
    author = await make_user(session)
    first, second = [await make_post(session, author.id) for _ in range(2)]
    ids = {"a": encode_id("Post", first.id), "b": encode_id("Post", second.id)}

    body, log = await counted("query($a: ID!) { post(id: $a) { title author { username } } }", ids)
    assert body["data"]["post"]["author"]["username"] == author.username
    assert log.count == 1
    assert gathered == []  # neither the root level nor the one below it

    body, log = await counted(
        "query($a: ID!, $b: ID!) { a: post(id: $a) { title } b: post(id: $b) { title } "
        "c: node(id: $b) { id } }",
        ids,
    )
    assert body["data"]["a"]["title"] == first.title
    assert body["data"]["b"]["title"] == second.title
    assert body["data"]["c"]["id"] == ids["b"]
    assert log.count == 1
    assert gathered[0] == 3  # the root level: the three lookups gathered


async def test_batches_bind_one_array_never_an_expanding_in(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors_with_posts(session, authors=5, posts_each=3)
    _, log = await counted(
        "{ users { edges { node { postCount posts { edges { node { author { username } "
        "tags { name postCount } } } } } } } }"
    )
    # users with their pages of posts (read ahead), the users' counts, the tags' counts
    assert log.count == 3
    for statement in log.statements:
        assert "POSTCOMPILE" not in statement
        assert " IN (" not in statement.upper()


async def test_reads_run_outside_any_transaction(read_pool: ReadPool, pooler: Pooler) -> None:
    if pooler.settings_per_transaction:
        # Behind a transaction pooler a borrow is one read-only transaction, opened by
        # setting what the session would have had (db/engine.py, Pooler).
        async with read_pool.connection() as conn:
            assert conn.is_in_transaction()
            assert await conn.fetchval("SELECT current_setting('transaction_read_only')") == "on"
            assert await conn.fetchval("SELECT current_setting('statement_timeout')") == "5s"
        assert not conn.is_in_transaction()
        return
    # In a transaction block both statements would share one transaction id; in
    # autocommit each is its own, so no BEGIN/ROLLBACK round trips are paid.
    async with read_pool.connection() as conn:
        first = await conn.fetchval("SELECT txid_current()")
        second = await conn.fetchval("SELECT txid_current()")
        in_transaction = conn.is_in_transaction()
    assert first != second
    assert in_transaction is False


async def test_a_read_batch_is_one_round_trip(
    read_pool: ReadPool, pooler: Pooler, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No ping before a checkout and no reset after it (asyncpg's default reset is
    # `execute` of RESET ALL and more); only the batch's own `fetch` goes out.
    sent: list[str] = []

    def record(name: str) -> None:
        original = getattr(asyncpg.Connection, name)

        async def recording(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
            sent.append(f"{name}: {query}")
            return await original(self, query, *args, **kw)

        monkeypatch.setattr(asyncpg.Connection, name, recording)

    for name in ("execute", "fetch", "fetchrow", "fetchval"):
        record(name)
    with counting() as log:
        for _ in range(3):
            assert await read(read_pool, users.users_by_ids, [1, 2]) == [None, None]

    if pooler.settings_per_transaction:
        # Behind a transaction pooler, a transaction around it: three round trips.
        assert len(sent) == 9
        for begin, fetch, commit in zip(sent[::3], sent[1::3], sent[2::3], strict=True):
            assert begin.startswith("execute: BEGIN READ ONLY; SELECT set_config(")
            assert fetch.startswith("fetch: SELECT users.id")
            assert commit == "execute: COMMIT"
    else:
        assert len(sent) == 3
        assert all(s.startswith("fetch: SELECT users.id") for s in sent)
    assert log.count == 3


async def test_a_read_survives_a_dropped_pooled_connection(
    read_pool: ReadPool, database_url: str
) -> None:
    async def backend_pid(conn: asyncpg.Connection) -> int:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))

    pids = [await read(read_pool, backend_pid) for _ in range(3)]
    # Straight to PostgreSQL: through a pooler, the admin's own transaction could be
    # given one of the very backends it terminates.
    engine = make_engine(database_url)
    try:
        async with engine.begin() as admin:
            for pid in set(pids):
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await engine.dispose()

    assert await read(read_pool, backend_pid) not in pids
