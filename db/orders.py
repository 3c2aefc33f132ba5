"""Batch reads of orders and their items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.access import Access
from db.models import OrderStatus, order_items, orders, products
from db.paging import DbRow, Ordering, Page, PageRequest, any_id, fetch_page, fetch_pages_by_parent

NEWEST = Ordering("order_newest", (orders.c.created_at, orders.c.id), descending=True)


@dataclass(frozen=True, slots=True)
class OrderTotals:
    item_count: int
    total: Decimal


NO_ITEMS = OrderTotals(item_count=0, total=Decimal("0.00"))


def _visible(access: Access, status: OrderStatus | None) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [access.visible_orders()]
    if status is not None:
        conditions.append(orders.c.status == status)
    return select(orders).where(and_(*conditions))


async def orders_by_ids(
    conn: AsyncConnection, ids: Sequence[int], *, access: Access
) -> list[DbRow | None]:
    rows = (await conn.execute(_visible(access, None).where(any_id(orders.c.id, ids)))).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(key) for key in ids]


async def orders_page(
    conn: AsyncConnection,
    request: PageRequest,
    *,
    status: OrderStatus | None,
    access: Access,
    ordering: Ordering = NEWEST,
) -> Page:
    return await fetch_page(conn, _visible(access, status), ordering, request)


async def orders_count(conn: AsyncConnection, *, status: OrderStatus | None, access: Access) -> int:
    stmt = select(func.count()).select_from(_visible(access, status).subquery())
    return int((await conn.execute(stmt)).scalar_one())


async def order_pages_by_customer_ids(
    conn: AsyncConnection,
    customer_ids: Sequence[int],
    request: PageRequest,
    *,
    status: OrderStatus | None,
    access: Access,
) -> list[Page]:
    def page_for(customer_id: ColumnElement[int]) -> Select[Any]:
        return _visible(access, status).where(orders.c.user_id == customer_id)

    return await fetch_pages_by_parent(conn, customer_ids, page_for, NEWEST, request)


async def order_counts_by_customer_ids(
    conn: AsyncConnection,
    customer_ids: Sequence[int],
    *,
    status: OrderStatus | None,
    access: Access,
) -> list[int]:
    visible = _visible(access, status).where(any_id(orders.c.user_id, customer_ids)).subquery()
    stmt = select(visible.c.user_id, func.count()).group_by(visible.c.user_id)
    counts = {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}
    return [counts.get(key, 0) for key in customer_ids]


async def items_by_order_ids(conn: AsyncConnection, order_ids: Sequence[int]) -> list[list[DbRow]]:
    """Each order's items with their products' columns, ordered by product name.

    The product rides along (prefixed `product__`) so that `item.product` needs no
    statement of its own.
    """
    product_columns = [column.label(f"product__{column.name}") for column in products.c]
    stmt = (
        select(order_items, *product_columns)
        .join(products, products.c.id == order_items.c.product_id)
        .where(any_id(order_items.c.order_id, order_ids))
        .order_by(products.c.name, products.c.id)
    )
    grouped: dict[int, list[DbRow]] = {}
    for row in (await conn.execute(stmt)).all():
        grouped.setdefault(row.order_id, []).append(row)
    return [grouped.get(key, []) for key in order_ids]


async def totals_by_order_ids(conn: AsyncConnection, order_ids: Sequence[int]) -> list[OrderTotals]:
    stmt = (
        select(
            order_items.c.order_id,
            func.sum(order_items.c.quantity),
            func.sum(order_items.c.quantity * order_items.c.unit_price),
        )
        .where(any_id(order_items.c.order_id, order_ids))
        .group_by(order_items.c.order_id)
    )
    totals = {
        row[0]: OrderTotals(item_count=int(row[1]), total=Decimal(row[2]).quantize(Decimal("0.01")))
        for row in (await conn.execute(stmt)).all()
    }
    return [totals.get(key, NO_ITEMS) for key in order_ids]
