"""Batch reads of products."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import OrderStatus, order_items, orders, products
from db.paging import DbRow, Ordering, Page, PageRequest, any_id, fetch_page
from db.posts import contains

BY_NAME = Ordering("product_name", (products.c.name, products.c.id))


async def products_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[DbRow | None]:
    rows = (await conn.execute(select(products).where(any_id(products.c.id, ids)))).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(key) for key in ids]


async def product_by_sku(conn: AsyncConnection, sku: str) -> DbRow | None:
    return (await conn.execute(select(products).where(products.c.sku == sku))).first()


def _searched(search: str | None, in_stock: bool | None) -> Select[Any]:
    stmt = select(products)
    if search:
        stmt = stmt.where(or_(contains(products.c.name, search), contains(products.c.sku, search)))
    if in_stock is True:
        stmt = stmt.where(products.c.stock > 0)
    elif in_stock is False:
        stmt = stmt.where(products.c.stock == 0)
    return stmt


async def products_page(
    conn: AsyncConnection,
    request: PageRequest,
    *,
    search: str | None,
    in_stock: bool | None,
    ordering: Ordering = BY_NAME,
) -> Page:
    return await fetch_page(conn, _searched(search, in_stock), ordering, request)


async def products_count(
    conn: AsyncConnection, *, search: str | None, in_stock: bool | None
) -> int:
    stmt = select(func.count()).select_from(_searched(search, in_stock).subquery())
    return int((await conn.execute(stmt)).scalar_one())


async def units_sold_by_product_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[int]:
    """Units of each product in orders that are not cancelled."""
    stmt = (
        select(order_items.c.product_id, func.sum(order_items.c.quantity))
        .join(orders, orders.c.id == order_items.c.order_id)
        .where(any_id(order_items.c.product_id, ids), orders.c.status != OrderStatus.CANCELLED)
        .group_by(order_items.c.product_id)
    )
    sold = {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}
    return [sold.get(key, 0) for key in ids]
