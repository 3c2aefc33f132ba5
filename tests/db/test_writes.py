"""db/writes_*: the statements under the mutations, on separate sessions racing each other."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import writes_orders, writes_posts, writes_products
from db.models import OrderStatus, order_items, products
from db.writes import violated_constraint
from tests.factories import make_order, make_post, make_product, make_user


async def test_violated_constraint_names_the_unique_index(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    await make_product(session, sku="MUG")

    with pytest.raises(IntegrityError) as caught:
        async with sessionmaker.begin() as tx:
            await writes_products.insert_product(
                tx, sku="MUG", name="Mug", price=Decimal("1.00"), stock=1
            )

    assert violated_constraint(caught.value) == "uq_products_sku"


async def test_ensure_tags_in_racing_transactions_makes_each_tag_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def ensure(names: list[str]) -> list[str]:
        async with sessionmaker.begin() as tx:
            rows = await writes_posts.ensure_tags(tx, names)
            await asyncio.sleep(0.01)  # hold the new rows uncommitted for a moment
            return [row.name for row in rows]

    results = await asyncio.gather(*(ensure(["b", "a", "c"][n % 3 :]) for n in range(12)))

    assert sorted(map(tuple, results)) == sorted(
        tuple(sorted(["b", "a", "c"][n % 3 :])) for n in range(12)
    )
    async with sessionmaker() as s:
        assert [r.name for r in await writes_posts.ensure_tags(s, ["a", "b", "c"])] == [
            "a",
            "b",
            "c",
        ]


async def test_set_post_tags_keeps_existing_links(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id, tags=["a", "b"])

    async with sessionmaker.begin() as tx:
        rows = await writes_posts.ensure_tags(tx, ["b", "c"])
        await writes_posts.set_post_tags(tx, post.id, [row.id for row in rows])
        assert await writes_posts.tag_ids_of_post(tx, post.id) == sorted(r.id for r in rows)
        await writes_posts.set_post_tags(tx, post.id, [])
        assert await writes_posts.tag_ids_of_post(tx, post.id) == []


async def test_take_stock_never_goes_below_zero(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    user = await make_user(session)
    product = await make_product(session, price="2.50", stock=3)

    async def take() -> bool:
        async with sessionmaker.begin() as tx:
            order = await writes_orders.insert_order(tx, user_id=user.id, idempotency_key=None)
            assert order is not None
            return await writes_orders.take_stock(tx, order.id, product.id, 2)

    taken = await asyncio.gather(*(take() for _ in range(4)))

    assert sorted(taken) == [False, False, False, True]
    async with sessionmaker() as s:
        [item] = (await s.execute(select(order_items))).all()
        stock = select(products.c.stock).where(products.c.id == product.id)
        assert (await s.execute(stock)).scalar_one() == 1
    assert (item.product_id, item.quantity) == (product.id, 2)
    assert item.unit_price == Decimal("2.50")


async def test_a_keyed_insert_waits_for_the_first_and_then_yields_to_it(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    user = await make_user(session)
    first_inserted = asyncio.Event()

    async def first() -> None:
        async with sessionmaker.begin() as tx:
            assert await writes_orders.insert_order(tx, user_id=user.id, idempotency_key="k")
            first_inserted.set()
            await asyncio.sleep(0.2)

    async def second() -> bool:
        await first_inserted.wait()
        async with sessionmaker.begin() as tx:
            return (
                await writes_orders.insert_order(tx, user_id=user.id, idempotency_key="k") is None
            )

    _, yielded = await asyncio.gather(first(), second())

    assert yielded


async def test_a_keyed_insert_takes_over_when_the_first_rolls_back(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    user = await make_user(session)
    first_inserted = asyncio.Event()

    async def first() -> None:
        async with sessionmaker() as tx:
            await writes_orders.insert_order(tx, user_id=user.id, idempotency_key="k")
            first_inserted.set()
            await asyncio.sleep(0.2)
            await tx.rollback()

    async def second() -> object:
        await first_inserted.wait()
        async with sessionmaker.begin() as tx:
            return await writes_orders.insert_order(tx, user_id=user.id, idempotency_key="k")

    _, row = await asyncio.gather(first(), second())

    assert row is not None


async def test_set_status_and_return_stock(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    user = await make_user(session)
    a = await make_product(session, stock=1)
    b = await make_product(session, stock=2)
    order = await make_order(session, user.id, [(b, 5), (a, 3)])

    async with sessionmaker.begin() as tx:
        locked = await writes_orders.lock_order(tx, order.id)
        assert locked is not None
        row = await writes_orders.set_status(tx, order.id, OrderStatus.CANCELLED)
        await writes_orders.return_stock(tx, order.id)
        assert await writes_orders.order_lines(tx, order.id) == {a.id: 3, b.id: 5}

    assert row.status is OrderStatus.CANCELLED
    async with sessionmaker() as s:
        assert await writes_orders.existing_product_ids(s, [a.id, b.id, 10**6]) == {a.id, b.id}
        added = await writes_products.add_stock(s, a.id, 1)
        assert added is not None
        assert added.stock == 5
        assert await writes_products.add_stock(s, b.id, writes_products.MAX_STOCK) is None
        assert await writes_products.add_stock(s, 10**6, 1) is None
