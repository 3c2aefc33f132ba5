"""Inserts and stock changes of products. The caller owns the transaction."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import products
from db.rows import DbRow

MAX_STOCK = 2**31 - 1
"""The stock column is a PostgreSQL integer."""


async def insert_product(
    session: AsyncSession, *, sku: str, name: str, price: Decimal, stock: int
) -> DbRow:
    """Raises IntegrityError on `uq_products_sku` when the SKU is taken."""
    stmt = insert(products).values(sku=sku, name=name, price=price, stock=stock).returning(products)
    row: DbRow = (await session.execute(stmt)).one()
    return row


async def add_stock(session: AsyncSession, product_id: int, quantity: int) -> DbRow | None:
    """`stock = stock + quantity` in one statement; None when no such product, or the
    stock would pass MAX_STOCK."""
    stmt = (
        update(products)
        .where(products.c.id == product_id, products.c.stock <= MAX_STOCK - quantity)
        .values(stock=products.c.stock + quantity)
        .returning(products)
    )
    found: DbRow | None = (await session.execute(stmt)).first()
    return found


async def product_exists(session: AsyncSession, product_id: int) -> bool:
    stmt = select(products.c.id).where(products.c.id == product_id)
    return (await session.execute(stmt)).first() is not None
