"""Every rule of DATABASE.md holds in the migrated schema: a bad row is refused by the
constraint named for it, deletes cascade or are restricted as written, defaults apply."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

BASE_ROWS = (
    "INSERT INTO users (username, email, password_hash) VALUES "
    "('ann', 'ann@example.com', 'h'), ('cat', 'cat@example.com', 'h')",
    "INSERT INTO posts (author_id, title, body) VALUES (1, 'By ann', 'b'), (2, 'By cat', 'b')",
    "INSERT INTO tags (name) VALUES ('greeting'), ('farewell')",
    "INSERT INTO post_tags (post_id, tag_id) VALUES (1, 1), (2, 1)",
    "INSERT INTO products (sku, name, price, stock) VALUES "
    "('SKU-1', 'Mug', 9.99, 5), ('SKU-2', 'Lamp', 20, 0)",
    "INSERT INTO orders (user_id, idempotency_key) VALUES (1, 'k1')",
    "INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES (1, 1, 2, 9.99)",
    "INSERT INTO auth_tokens (user_id, token_hash, expires_at) "
    "VALUES (2, 'cafe', now() + interval '1 day')",
)

# A valid new row for each table, column by column, given BASE_ROWS.
VALID_ROWS: dict[str, dict[str, str]] = {
    "users": {
        "username": "'bob'",
        "email": "'bob@example.com'",
        "password_hash": "'h'",
        "is_active": "true",
        "is_admin": "false",
        "created_at": "now()",
    },
    "posts": {
        "author_id": "1",
        "title": "'Title'",
        "body": "'Body'",
        "published": "false",
        "created_at": "now()",
    },
    "tags": {"name": "'fresh'"},
    "post_tags": {"post_id": "1", "tag_id": "2", "created_at": "now()"},
    "products": {
        "sku": "'SKU-3'",
        "name": "'Pen'",
        "price": "1.50",
        "stock": "1",
        "created_at": "now()",
    },
    "orders": {"user_id": "1", "status": "'pending'", "created_at": "now()"},
    "order_items": {"order_id": "1", "product_id": "2", "quantity": "1", "unit_price": "20"},
}

# restrict_violation on newer servers, foreign_key_violation on older ones.
RESTRICTED = {"23001", "23503"}


def _insert(table: str, **changes: str) -> str:
    values = {**VALID_ROWS[table], **changes}
    return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(values.values())})"


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The test database holding BASE_ROWS (tables are emptied after each test)."""
    async with engine.begin() as conn:
        for sql in BASE_ROWS:
            await conn.execute(text(sql))
    return engine


async def _refused(engine: AsyncEngine, sql: str) -> Any:
    """Run `sql` in its own transaction, which must fail; return asyncpg's exception."""
    with pytest.raises(DBAPIError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    assert caught.value.orig is not None
    error = caught.value.orig.__cause__
    assert isinstance(error, asyncpg.PostgresError)
    return error


async def _count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_the_valid_rows_are_accepted(db: AsyncEngine) -> None:
    """So that each refusal below is for the one value it changes."""
    async with db.connect() as conn:
        for table in VALID_ROWS:
            await conn.execute(text(_insert(table)))
        await conn.rollback()


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (_insert("posts", title="''"), "ck_posts_title_not_empty"),
        (_insert("products", price="-0.01"), "ck_products_price_not_negative"),
        (_insert("products", stock="-1"), "ck_products_stock_not_negative"),
        (_insert("order_items", quantity="0"), "ck_order_items_quantity_positive"),
        (_insert("order_items", unit_price="-1"), "ck_order_items_unit_price_not_negative"),
    ],
    ids=["empty title", "negative price", "negative stock", "quantity 0", "negative unit price"],
)
async def test_checks(db: AsyncEngine, sql: str, constraint: str) -> None:
    error = await _refused(db, sql)
    assert (error.sqlstate, error.constraint_name) == ("23514", constraint)


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (_insert("users", username="'ANN'"), "uq_users_username_lower"),
        (_insert("users", email="'Ann@Example.COM'"), "uq_users_email_lower"),
        (_insert("tags", name="'greeting'"), "uq_tags_name"),
        (_insert("products", sku="'SKU-1'"), "uq_products_sku"),
        (
            "INSERT INTO orders (user_id, idempotency_key) VALUES (1, 'k1')",
            "uq_orders_user_id_idempotency_key",
        ),
        (_insert("post_tags", tag_id="1"), "pk_post_tags"),
        (_insert("order_items", product_id="1"), "pk_order_items"),
    ],
    ids=[
        "username in other case",
        "email in other case",
        "tag name",
        "sku",
        "idempotency key of the same user",
        "post tag twice",
        "product twice in an order",
    ],
)
async def test_unique(db: AsyncEngine, sql: str, constraint: str) -> None:
    error = await _refused(db, sql)
    assert (error.sqlstate, error.constraint_name) == ("23505", constraint)


async def test_idempotency_keys_are_per_user_and_may_be_missing(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (user_id, idempotency_key) "
                "VALUES (2, 'k1'), (1, NULL), (1, NULL)"
            )
        )
    assert await _count(db, "SELECT count(*) FROM orders") == 4


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (_insert("posts", author_id="99"), "fk_posts_author_id_users"),
        (_insert("post_tags", post_id="99"), "fk_post_tags_post_id_posts"),
        (_insert("post_tags", tag_id="99"), "fk_post_tags_tag_id_tags"),
        (_insert("orders", user_id="99"), "fk_orders_user_id_users"),
        (_insert("order_items", order_id="99"), "fk_order_items_order_id_orders"),
        (_insert("order_items", product_id="99"), "fk_order_items_product_id_products"),
    ],
    ids=["post author", "post tag post", "post tag tag", "customer", "order", "product"],
)
async def test_references_must_exist(db: AsyncEngine, sql: str, constraint: str) -> None:
    error = await _refused(db, sql)
    assert (error.sqlstate, error.constraint_name) == ("23503", constraint)


async def test_order_status_is_one_of_four(db: AsyncEngine) -> None:
    error = await _refused(db, _insert("orders", status="'lost'"))
    assert error.sqlstate == "22P02"  # invalid input value for enum order_status
    for status in ("pending", "paid", "shipped", "cancelled"):
        async with db.begin() as conn:
            await conn.execute(text(_insert("orders", status=f"'{status}'")))


@pytest.mark.parametrize(
    ("table", "column"),
    [(table, column) for table, row in VALID_ROWS.items() for column in row],
)
async def test_not_null(db: AsyncEngine, table: str, column: str) -> None:
    error = await _refused(db, _insert(table, **{column: "NULL"}))
    assert (error.sqlstate, error.column_name) == ("23502", column)


@pytest.mark.parametrize(
    ("table", "column", "limit"),
    [
        ("users", "username", 50),
        ("users", "email", 255),
        ("users", "full_name", 100),
        ("posts", "title", 200),
        ("tags", "name", 50),
        ("products", "sku", 32),
        ("products", "name", 200),
        ("orders", "idempotency_key", 64),
    ],
)
async def test_lengths(db: AsyncEngine, table: str, column: str, limit: int) -> None:
    async with db.connect() as conn:
        await conn.execute(text(_insert(table, **{column: f"'{'x' * limit}'"})))
        await conn.rollback()
    error = await _refused(db, _insert(table, **{column: f"'{'x' * (limit + 1)}'"}))
    assert error.sqlstate == "22001"  # value too long


async def test_deleting_a_user_deletes_their_posts_tags_and_tokens(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE username = 'cat'"))
    assert await _count(db, "SELECT count(*) FROM posts WHERE author_id = 2") == 0
    assert await _count(db, "SELECT count(*) FROM post_tags WHERE post_id = 2") == 0
    assert await _count(db, "SELECT count(*) FROM auth_tokens") == 0
    assert await _count(db, "SELECT count(*) FROM posts") == 1


async def test_a_user_with_orders_cannot_be_deleted(db: AsyncEngine) -> None:
    error = await _refused(db, "DELETE FROM users WHERE username = 'ann'")
    assert error.sqlstate in RESTRICTED
    assert error.constraint_name == "fk_orders_user_id_users"
    assert await _count(db, "SELECT count(*) FROM posts WHERE author_id = 1") == 1


async def test_an_ordered_product_cannot_be_deleted(db: AsyncEngine) -> None:
    error = await _refused(db, "DELETE FROM products WHERE id = 1")
    assert error.sqlstate in RESTRICTED
    assert error.constraint_name == "fk_order_items_product_id_products"
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM products WHERE id = 2"))


async def test_deleting_a_post_or_tag_deletes_its_post_tags(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM posts WHERE id = 1"))
    assert await _count(db, "SELECT count(*) FROM post_tags") == 1
    assert await _count(db, "SELECT count(*) FROM tags") == 2
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM tags WHERE id = 1"))
    assert await _count(db, "SELECT count(*) FROM post_tags") == 0
    assert await _count(db, "SELECT count(*) FROM posts") == 1


async def test_deleting_an_order_deletes_its_items(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM orders WHERE id = 1"))
    assert await _count(db, "SELECT count(*) FROM order_items") == 0
    assert await _count(db, "SELECT count(*) FROM products") == 2


async def test_defaults(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        now = (await conn.execute(text("SELECT now()"))).scalar_one()

        async def inserted(sql: str) -> Any:
            return (await conn.execute(text(f"{sql} RETURNING *"))).one()

        user = await inserted(
            "INSERT INTO users (username, email, password_hash) VALUES ('dee', 'd@e.io', 'h')"
        )
        assert (user.is_active, user.is_admin, user.created_at) == (True, False, now)
        assert user.full_name is None
        assert user.updated_at is None
        post = await inserted("INSERT INTO posts (author_id, title, body) VALUES (1, 't', 'b')")
        assert (post.published, post.published_at, post.created_at) == (False, None, now)
        post_tag = await inserted("INSERT INTO post_tags (post_id, tag_id) VALUES (1, 2)")
        assert post_tag.created_at == now
        product = await inserted("INSERT INTO products (sku, name, price) VALUES ('P', 'P', 1)")
        assert (product.stock, product.created_at) == (0, now)
        order = await inserted("INSERT INTO orders (user_id) VALUES (1)")
        assert (order.status, order.idempotency_key, order.created_at) == ("pending", None, now)
        await conn.rollback()


async def test_on_delete_rules(engine: AsyncEngine) -> None:
    sql = """
        SELECT conname, confdeltype::text AS rule FROM pg_constraint
        WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
    """
    async with engine.connect() as conn:
        rules = {row.conname: row.rule for row in await conn.execute(text(sql))}
    cascade, restrict = "c", "r"
    contract = {
        "fk_posts_author_id_users": cascade,
        "fk_post_tags_post_id_posts": cascade,
        "fk_post_tags_tag_id_tags": cascade,
        "fk_orders_user_id_users": restrict,
        "fk_order_items_order_id_orders": cascade,
        "fk_order_items_product_id_products": restrict,
        "fk_auth_tokens_user_id_users": cascade,
    }
    assert {name: rules.get(name) for name in contract} == contract


async def test_every_foreign_key_has_an_index_that_leads_with_it(engine: AsyncEngine) -> None:
    sql = """
        SELECT c.conrelid::regclass::text || ' ' || c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.connamespace = current_schema()::regnamespace
          AND NOT EXISTS (
              SELECT FROM pg_index i
              WHERE i.indrelid = c.conrelid
                AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]
                    = c.conkey
          )
    """
    async with engine.connect() as conn:
        assert list((await conn.execute(text(sql))).scalars()) == []
