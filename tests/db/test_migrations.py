"""Alembic: every revision goes up and down on a database with rows in it, and the head
matches db.models exactly (what `alembic check` would say)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from db import migrations
from db.engine import make_engine
from db.models import Base

CreateDatabase = Callable[[], Awaitable[str]]
CONTRACT_TABLES = {"users", "posts", "tags", "post_tags", "products", "orders", "order_items"}

SAMPLE_ROWS = (
    "INSERT INTO users (username, email, password_hash) VALUES ('ann', 'ann@example.com', 'h')",
    "INSERT INTO posts (author_id, title, body, published) VALUES (1, 'Hello', 'World', true)",
    "INSERT INTO tags (name) VALUES ('greeting')",
    "INSERT INTO post_tags (post_id, tag_id) VALUES (1, 1)",
    "INSERT INTO products (sku, name, price, stock) VALUES ('SKU-1', 'Mug', 9.99, 3)",
    "INSERT INTO orders (user_id, status, idempotency_key) VALUES (1, 'paid', 'k1')",
    "INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES (1, 1, 2, 9.99)",
)


@pytest.fixture
async def fresh_engine(create_database: CreateDatabase) -> AsyncIterator[AsyncEngine]:
    """An engine on a private, empty database (no migration applied)."""
    engine = make_engine(await create_database())
    yield engine
    await engine.dispose()


def _revisions_base_to_head() -> list[str]:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
        return set(result.scalars())


async def _current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await migrations.current_revision(conn)


async def _insert_sample_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for sql in SAMPLE_ROWS:
            await conn.execute(text(sql))


async def _differences(engine: AsyncEngine) -> list[Any]:
    def compare(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert script.get_heads() == [migrations.head_revision()]
    assert _revisions_base_to_head()[-1] == migrations.head_revision()


async def test_up_down_up_on_a_database_with_data(fresh_engine: AsyncEngine) -> None:
    await migrations.upgrade(fresh_engine)
    await _insert_sample_rows(fresh_engine)

    await migrations.downgrade(fresh_engine, "base")
    assert await _tables(fresh_engine) <= {"alembic_version"}
    assert await _current(fresh_engine) is None
    async with fresh_engine.connect() as conn:
        enum = await conn.execute(text("SELECT 1 FROM pg_type WHERE typname = 'order_status'"))
        assert enum.first() is None

    await migrations.upgrade(fresh_engine)
    assert await _current(fresh_engine) == migrations.head_revision()
    assert await _tables(fresh_engine) >= CONTRACT_TABLES
    assert await _differences(fresh_engine) == []
    await _insert_sample_rows(fresh_engine)  # the rebuilt schema takes the same rows


async def test_each_revision_steps_up_and_down(fresh_engine: AsyncEngine) -> None:
    for revision in _revisions_base_to_head():
        await migrations.upgrade(fresh_engine, revision)
        assert await _current(fresh_engine) == revision
    await _insert_sample_rows(fresh_engine)
    for revision in reversed(_revisions_base_to_head()):
        assert await _current(fresh_engine) == revision
        await migrations.downgrade(fresh_engine, "-1")
    assert await _current(fresh_engine) is None


async def test_head_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert await _differences(engine) == []
    finally:
        await engine.dispose()


async def test_the_comparison_would_notice_a_drift(fresh_engine: AsyncEngine) -> None:
    """Guards the check above: a missing functional index and a changed default show up."""
    await migrations.upgrade(fresh_engine)
    async with fresh_engine.begin() as conn:
        await conn.execute(text("DROP INDEX uq_users_email_lower"))
        await conn.execute(text("ALTER TABLE products ALTER COLUMN stock SET DEFAULT 5"))
    kinds = {_kind(difference) for difference in await _differences(fresh_engine)}
    assert kinds == {"add_index", "modify_default"}


def _kind(difference: Any) -> str:
    # compare_metadata gives tuples, and lists of tuples for column changes.
    first = difference[0] if isinstance(difference, list) else difference
    return str(first[0])
