"""db/seed.py: volumes, shape, determinism, refusal, --replace and sequences."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import migrations
from db.accounts import verify_password
from db.demo_data import EPOCH, Volumes
from db.engine import make_engine
from db.models import Base
from db.seed import DEMO_USER_HASH, DatabaseNotEmpty, SeedReport, is_empty, seed

CreateDatabase = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Seeded:
    engine: AsyncEngine
    report: SeedReport
    fingerprint: dict[str, str]


async def _migrated_engine(create_database: CreateDatabase) -> AsyncEngine:
    engine = make_engine(await create_database())
    await migrations.upgrade(engine)
    return engine


async def _fingerprint(engine: AsyncEngine) -> dict[str, str]:
    """md5 of every table's rows in key order; password hashes are checked on their own."""
    digests: dict[str, str] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = ", ".join(f"t.{column.name}" for column in table.primary_key.columns)
            rows = "(to_jsonb(t) - 'password_hash')::text"
            sql = f"SELECT md5(string_agg({rows}, E'\\n' ORDER BY {order})) FROM {table.name} t"
            digests[table.name] = (await conn.execute(text(sql))).scalar_one() or "empty"
    return digests


async def _scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


@pytest.fixture(scope="module")
async def seeded(create_database: CreateDatabase) -> AsyncIterator[Seeded]:
    """A private database seeded once at scale 1 with random seed 1."""
    engine = await _migrated_engine(create_database)
    report = await seed(engine, scale=1, random_seed=1)
    yield Seeded(engine, report, await _fingerprint(engine))
    await engine.dispose()


async def test_volumes_at_scale_1(seeded: Seeded) -> None:
    expected = {"users": 2_000, "posts": 20_000, "tags": 200, "products": 1_000, "orders": 10_000}
    for table, count in expected.items():
        assert await _scalar(seeded.engine, f"SELECT count(*) FROM {table}") == count, table
    for child, parent in (("post_tags", "posts"), ("order_items", "orders")):
        count = await _scalar(seeded.engine, f"SELECT count(*) FROM {child}")
        assert 2.7 * expected[parent] <= count <= 3.3 * expected[parent], child
    for table, count in seeded.report.counts.items():
        assert await _scalar(seeded.engine, f"SELECT count(*) FROM {table}") == count, table


async def test_scale_1_loads_well_under_30_seconds(seeded: Seeded) -> None:
    assert seeded.report.seconds < 30
    summary = seeded.report.summary()
    assert "20,000" in summary
    assert "posts" in summary
    assert " s" in summary


async def test_rows_look_like_a_live_database(seeded: Seeded) -> None:
    async def one(sql: str) -> Any:
        return await _scalar(seeded.engine, sql)

    drafts = await one("SELECT avg((NOT published)::int) FROM posts")
    assert 0.08 < drafts < 0.12
    assert (
        await one("SELECT count(*) FROM posts WHERE published <> (published_at IS NOT NULL)") == 0
    )
    assert await one("SELECT count(*) FROM posts WHERE published_at < created_at") == 0
    start, end = EPOCH - timedelta(days=730), EPOCH
    for table in ("users", "posts", "products", "orders"):
        oldest = await one(f"SELECT min(created_at) FROM {table}")
        newest = await one(f"SELECT max(created_at) FROM {table}")
        assert start <= oldest <= newest <= end, table
    assert await one("SELECT min(length(body)) FROM posts") >= 100
    assert await one("SELECT max(length(body)) FROM posts") <= 1_000
    # Skewed authorship: the busiest author has many times the median's posts.
    busiest, median = await one(
        "SELECT array[max(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n)] "
        "FROM (SELECT count(*) AS n FROM posts GROUP BY author_id) AS per_author"
    )
    assert busiest > 100 * median
    assert await one("SELECT count(*) FROM tags WHERE name <> lower(name)") == 0
    assert await one("SELECT count(*) FROM posts p JOIN users u ON u.id = p.author_id "
                     "WHERE p.created_at < u.created_at") == 0  # fmt: skip
    assert (
        await one(
            "SELECT count(*) FROM order_items i JOIN products p ON p.id = i.product_id "
            "WHERE i.unit_price <> p.price"
        )
        == 0
    )
    statuses = await one(
        "SELECT array_agg(DISTINCT status::text ORDER BY status::text) FROM orders"
    )
    assert statuses == ["cancelled", "paid", "pending", "shipped"]
    keyless = await one("SELECT avg((idempotency_key IS NULL)::int) FROM orders")
    assert 0.2 < keyless < 0.4


async def test_admin_signs_in_and_other_users_share_one_hash(seeded: Seeded) -> None:
    assert seeded.report.demo_login is not None
    username, password = seeded.report.demo_login
    assert username == "admin"
    async with seeded.engine.connect() as conn:
        admins = (
            await conn.execute(text("SELECT username, password_hash FROM users WHERE is_admin"))
        ).all()
        others = (
            await conn.execute(text("SELECT DISTINCT password_hash FROM users WHERE NOT is_admin"))
        ).scalars()
        assert set(others) == {DEMO_USER_HASH}
    assert [row.username for row in admins] == ["admin"]
    assert admins[0].password_hash.startswith("$argon2id$")
    assert password not in admins[0].password_hash
    assert await verify_password(admins[0].password_hash, password)


async def test_same_seed_gives_identical_rows(
    seeded: Seeded, create_database: CreateDatabase
) -> None:
    engine = await _migrated_engine(create_database)
    try:
        report = await seed(engine, scale=1, random_seed=1)
        assert await _fingerprint(engine) == seeded.fingerprint
    finally:
        await engine.dispose()
    # The admin's password is the one thing made afresh each time.
    assert report.demo_login != seeded.report.demo_login


async def test_another_seed_gives_other_rows(
    seeded: Seeded, create_database: CreateDatabase
) -> None:
    engine = await _migrated_engine(create_database)
    try:
        await seed(engine, scale=1, random_seed=2)
        other = await _fingerprint(engine)
    finally:
        await engine.dispose()
    for table in ("users", "posts", "post_tags", "products", "orders", "order_items"):
        assert other[table] != seeded.fingerprint[table], table


async def test_refuses_a_database_that_holds_data(seeded: Seeded) -> None:
    assert not await is_empty(seeded.engine)
    with pytest.raises(DatabaseNotEmpty, match="--replace"):
        await seed(seeded.engine)
    assert await _fingerprint(seeded.engine) == seeded.fingerprint


async def test_refuses_even_one_row(engine: AsyncEngine) -> None:
    assert await is_empty(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO tags (name) VALUES ('lonely')"))
    assert not await is_empty(engine)
    with pytest.raises(DatabaseNotEmpty):
        await seed(engine)
    assert await _scalar(engine, "SELECT count(*) FROM tags") == 1


async def test_replace_deletes_every_row_and_loads_afresh(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    async with seeded.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (username, email, password_hash) VALUES ('extra', 'e@x.io', 'h')"
            )
        )
    report = await seed(seeded.engine, random_seed=1, replace=True, progress=True)
    assert report.counts == seeded.report.counts
    assert await _fingerprint(seeded.engine) == seeded.fingerprint
    assert "rows" in capsys.readouterr().err  # the progress bar, on standard error


async def test_sequences_are_past_the_loaded_ids(seeded: Seeded) -> None:
    inserts = {
        "users": "INSERT INTO users (username, email, password_hash) "
        "VALUES ('newcomer', 'newcomer@example.com', 'h') RETURNING id",
        "tags": "INSERT INTO tags (name) VALUES ('brand-new') RETURNING id",
        "products": "INSERT INTO products (sku, name, price) "
        "VALUES ('NEW-1', 'New', 1) RETURNING id",
        "posts": "INSERT INTO posts (author_id, title, body) "
        "VALUES (1, 'New', 'Body') RETURNING id",
        "orders": "INSERT INTO orders (user_id) VALUES (1) RETURNING id",
    }
    async with seeded.engine.connect() as conn:
        for table, sql in inserts.items():
            highest = (await conn.execute(text(f"SELECT max(id) FROM {table}"))).scalar_one()
            new_id = (await conn.execute(text(sql))).scalar_one()
            assert new_id > highest, table
        await conn.rollback()


def test_every_count_grows_with_the_scale() -> None:
    one, three = Volumes.for_scale(1), Volumes.for_scale(3)
    assert one == Volumes(users=2_000, posts=20_000, tags=200, products=1_000, orders=10_000)
    assert three == Volumes(*(3 * count for count in astuple(one)))
    with pytest.raises(ValueError, match="scale"):
        Volumes.for_scale(0)


async def test_a_seeded_database_is_vacuumed_for_index_only_scans(
    create_database: CreateDatabase,
) -> None:
    # Fresh COPYed pages are not all-visible until a VACUUM: index-only scans (a tag's
    # posts and their count) would visit the table for every row until autovacuum ran.
    engine = await _migrated_engine(create_database)
    try:
        await seed(engine, scale=1, random_seed=3)
        async with engine.connect() as conn:
            for table in ("post_tags", "posts", "users"):
                sql = f"SELECT relpages, relallvisible FROM pg_class WHERE relname = '{table}'"
                pages, visible = (await conn.execute(text(sql))).one()
                assert pages > 0, table
                # Nearly all: VACUUM leaves a page it cannot settle at once (rows too
                # new for another session's snapshot) to a later run.
                assert visible >= 0.9 * pages, table
            # The seed's own statement_timeout went no further than its VACUUM.
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "5s"
    finally:
        await engine.dispose()
