"""Explicit async factories: `await make_user(session, ...)`. Each commits, so that the
app's own connections see the rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import issue_token
from db.models import OrderStatus, order_items, orders, post_tags, posts, products, tags, users
from db.rows import DbRow

_counter = itertools.count(1)
# Fixed hash of an unknown password: factories never pay for argon2.
UNUSABLE_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$unusableunusableunusableunusableunusable"
)
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return BASE_TIME + timedelta(minutes=n)


async def make_user(
    session: AsyncSession,
    *,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
    is_admin: bool = False,
    password_hash: str = UNUSABLE_HASH,
    created_at: datetime | None = None,
) -> DbRow:
    n = next(_counter)
    username = username or f"user{n}"
    values: dict[str, object] = {
        "username": username,
        "email": email or f"{username}@example.com",
        "full_name": full_name,
        "is_admin": is_admin,
        "password_hash": password_hash,
    }
    if created_at is not None:
        values["created_at"] = created_at
    row: DbRow = (await session.execute(insert(users).values(**values).returning(users))).one()
    await session.commit()
    return row


async def make_token(session: AsyncSession, user_id: int, *, ttl_hours: int = 24) -> str:
    token = await issue_token(session, user_id, ttl=timedelta(hours=ttl_hours))
    await session.commit()
    return token


async def make_post(
    session: AsyncSession,
    author_id: int,
    *,
    title: str | None = None,
    body: str = "A body.",
    published: bool = True,
    created_at: datetime | None = None,
    tags: list[str] = [],  # noqa: B006 - never mutated
) -> DbRow:
    n = next(_counter)
    created = created_at or minutes(n)
    row: DbRow = (
        await session.execute(
            insert(posts)
            .values(
                author_id=author_id,
                title=title or f"Post {n}",
                body=body,
                published=published,
                published_at=created if published else None,
                created_at=created,
            )
            .returning(posts)
        )
    ).one()
    for name in tags:
        tag = await make_tag(session, name)
        await session.execute(insert(post_tags).values(post_id=row.id, tag_id=tag.id))
    await session.commit()
    return row


async def make_tag(session: AsyncSession, name: str) -> DbRow:
    """The tag called `name`, created when missing."""
    from sqlalchemy import select
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    await session.execute(pg_insert(tags).values(name=name).on_conflict_do_nothing())
    row: DbRow = (await session.execute(select(tags).where(tags.c.name == name))).one()
    await session.commit()
    return row


async def make_product(
    session: AsyncSession,
    *,
    name: str | None = None,
    sku: str | None = None,
    price: Decimal | str = "9.99",
    stock: int = 100,
) -> DbRow:
    n = next(_counter)
    row: DbRow = (
        await session.execute(
            insert(products)
            .values(
                sku=sku or f"SKU-{n}",
                name=name or f"Product {n}",
                price=Decimal(price),
                stock=stock,
            )
            .returning(products)
        )
    ).one()
    await session.commit()
    return row


async def make_order(
    session: AsyncSession,
    user_id: int,
    lines: list[tuple[DbRow, int]],
    *,
    status: OrderStatus = OrderStatus.PENDING,
    created_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> DbRow:
    """An order of (product row, quantity) lines at the products' prices; stock untouched."""
    n = next(_counter)
    row: DbRow = (
        await session.execute(
            insert(orders)
            .values(
                user_id=user_id,
                status=status,
                created_at=created_at or minutes(n),
                idempotency_key=idempotency_key,
            )
            .returning(orders)
        )
    ).one()
    for product, quantity in lines:
        await session.execute(
            insert(order_items).values(
                order_id=row.id,
                product_id=product.id,
                quantity=quantity,
                unit_price=product.price,
            )
        )
    await session.commit()
    return row


async def snapshot(session: AsyncSession) -> dict[str, object]:
    """Row counts of every table and every product's stock: equal snapshots before and
    after a failed mutation show it changed nothing."""
    from sqlalchemy import func, select

    from db.models import Base

    state: dict[str, object] = {}
    for table in Base.metadata.sorted_tables:
        count = select(func.count()).select_from(table)
        state[table.name] = (await session.execute(count)).scalar_one()
    stock = await session.execute(select(products.c.id, products.c.stock).order_by(products.c.id))
    state["stock"] = [tuple(row) for row in stock.all()]
    status = await session.execute(select(orders.c.id, orders.c.status).order_by(orders.c.id))
    state["order_status"] = [tuple(row) for row in status.all()]
    await session.commit()
    return state
