"""Placing orders and changing their status, stock included. The caller owns the transaction.

Lock order, so that concurrent writers never deadlock: an order's row first (status
changes), then product rows in ascending id order (placing and cancelling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderStatus, order_items, orders, products
from db.paging import DbRow


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


async def take_stock(session: AsyncSession, product_id: int, quantity: int) -> Decimal | None:
    """Take `quantity` units if there are that many; the product's price, or None if not.

    The row lock the UPDATE takes holds until the transaction ends, so the stock
    seen here is the stock committed by everyone before.
    """
    stmt = (
        update(products)
        .where(products.c.id == product_id, products.c.stock >= quantity)
        .values(stock=products.c.stock - quantity)
        .returning(products.c.price)
    )
    price: Decimal | None = (await session.execute(stmt)).scalar_one_or_none()
    return price


async def insert_items(
    session: AsyncSession, order_id: int, lines: Mapping[int, tuple[int, Decimal]]
) -> None:
    """Lines as {product id: (quantity, unit price)}."""
    await session.execute(
        insert(order_items),
        [
            {"order_id": order_id, "product_id": pid, "quantity": qty, "unit_price": price}
            for pid, (qty, price) in sorted(lines.items())
        ],
    )


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
