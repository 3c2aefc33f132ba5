"""Placing orders and changing their status, stock included. The caller owns the transaction.

Lock order, so that concurrent writers never deadlock: an order's row first (status
changes), then product rows in ascending id order (placing and cancelling).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Integer, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderStatus, order_items, orders, products
from db.rows import DbRow


async def insert_order(
    session: AsyncSession, *, user_id: int, idempotency_key: str | None
) -> DbRow | None:
    """A new pending order; None when the customer already has one with this key.

    With a key, a concurrent insert of the same key makes this one wait until the
    other transaction ends: None if it committed, a new row if it rolled back.
    """
    if idempotency_key is None:
        stmt = insert(orders).values(user_id=user_id).returning(orders)
        row: DbRow = (await session.execute(stmt)).one()
        return row
    keyed = (
        pg_insert(orders)
        .values(user_id=user_id, idempotency_key=idempotency_key)
        .on_conflict_do_nothing(index_elements=[orders.c.user_id, orders.c.idempotency_key])
        .returning(orders)
    )
    found: DbRow | None = (await session.execute(keyed)).first()
    return found


async def order_by_key(session: AsyncSession, *, user_id: int, idempotency_key: str) -> DbRow:
    stmt = select(orders).where(
        orders.c.user_id == user_id, orders.c.idempotency_key == idempotency_key
    )
    row: DbRow = (await session.execute(stmt)).one()
    return row


async def order_lines(session: AsyncSession, order_id: int) -> dict[int, int]:
    """{product id: quantity} of an order."""
    stmt = select(order_items.c.product_id, order_items.c.quantity).where(
        order_items.c.order_id == order_id
    )
    return {row.product_id: row.quantity for row in (await session.execute(stmt)).all()}


async def existing_product_ids(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    stmt = select(products.c.id).where(products.c.id.in_(ids))
    return set((await session.execute(stmt)).scalars().all())


async def take_stock(session: AsyncSession, order_id: int, product_id: int, quantity: int) -> bool:
    """Take `quantity` units of a product for an order's line, if there are that many.

    One statement: the UPDATE's row lock holds until the transaction ends, so the
    stock it sees is what everyone before committed, and the line gets the price of
    that moment. False (nothing written) when the product is short or missing.
    """
    taken = (
        update(products)
        .where(products.c.id == product_id, products.c.stock >= quantity)
        .values(stock=products.c.stock - quantity)
        .returning(products.c.id, products.c.price)
        .cte("taken")
    )
    line = (
        insert(order_items)
        .from_select(
            ["order_id", "product_id", "quantity", "unit_price"],
            select(
                literal(order_id, BigInteger),
                taken.c.id,
                literal(quantity, Integer),
                taken.c.price,
            ),
        )
        .returning(order_items.c.product_id)
    )
    return (await session.execute(line)).first() is not None


async def lock_order(session: AsyncSession, order_id: int) -> DbRow | None:
    """The order's row, locked until the transaction ends (None when there is none)."""
    stmt = select(orders).where(orders.c.id == order_id).with_for_update()
    found: DbRow | None = (await session.execute(stmt)).first()
    return found


async def set_status(session: AsyncSession, order_id: int, status: OrderStatus) -> DbRow:
    stmt = update(orders).where(orders.c.id == order_id).values(status=status).returning(orders)
    row: DbRow = (await session.execute(stmt)).one()
    return row


async def return_stock(session: AsyncSession, order_id: int) -> None:
    """Put an order's quantities back on its products' stock, one product at a time in id
    order (the lock order placing an order uses)."""
    for product_id, quantity in sorted((await order_lines(session, order_id)).items()):
        await session.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(stock=products.c.stock + quantity)
        )
