"""Batch reads of orders and their items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select

from db import counts
from db.access import Access, Reader, visible_orders
from db.models import OrderStatus, order_items, orders, products
from db.order_relations import NO_ITEMS, OrderTotals, order_totals
from db.paging import (
    Ordering,
    Page,
    PageRequest,
    PageShape,
    any_id,
    counted,
    fetch_page,
    fetch_pages_by_parent,
    paged,
    pages_by_parent,
)
from db.relations import NO_RELATIONS, Relations, join_all
from db.rows import Row, all_per_key, count_per_key, one_per_key
from db.statements import fetch, fetch_value, shaped

# API.md: an order has 1 to 50 lines.
MAX_LINES = 50
NEWEST = Ordering("order_newest", (orders.c.created_at, orders.c.id), descending=True)


def _visible(reader: Reader, status: bool) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [visible_orders(reader)]
    if status:
        conditions.append(orders.c.status == bindparam("status", type_=orders.c.status.type))
    return select(orders).where(and_(*conditions))


def _values(access: Access, status: OrderStatus | None) -> dict[str, Any]:
    return {**access.values, "status": status}


@shaped
def _by_ids(reader: Reader, relations: Relations) -> Select[Any]:
    return join_all(_visible(reader, False).where(any_id(orders.c.id)), orders, relations)


async def orders_by_ids(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    *,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> list[Row | None]:
    """By id, in key order; with the customer and totals `relations` asks for."""
    statement = _by_ids(access.reader, relations)
    return one_per_key(ids, await fetch(conn, statement, ids=list(ids), **access.values))


async def orders_page(
    conn: asyncpg.Connection,
    request: PageRequest,
    *,
    status: OrderStatus | None,
    access: Access,
    ordering: Ordering = NEWEST,
    relations: Relations = NO_RELATIONS,
) -> Page:
    statement = paged(
        _visible, request.shape, ordering, access.reader, status is not None, relations=relations
    )
    return await fetch_page(conn, statement, request, **_values(access, status))


async def orders_count(
    conn: asyncpg.Connection, *, status: OrderStatus | None, access: Access
) -> int:
    if status is None:
        return await counts.orders(conn, access=access)
    statement = counted(_visible, access.reader, status is not None)
    return int(await fetch_value(conn, statement, **_values(access, status)))


@shaped
def _pages_by_customer(
    shape: PageShape, reader: Reader, status: bool, relations: Relations
) -> Select[Any]:
    def page_for(customer_id: ColumnElement[int]) -> Select[Any]:
        return _visible(reader, status).where(orders.c.user_id == customer_id)

    return pages_by_parent(page_for, NEWEST, shape, relations)


async def order_pages_by_customer_ids(
    conn: asyncpg.Connection,
    customer_ids: Sequence[int],
    request: PageRequest,
    *,
    status: OrderStatus | None,
    access: Access,
    ordering: Ordering = NEWEST,
    relations: Relations = NO_RELATIONS,
) -> list[Page]:
    """Each customer's page, newest first (the one ordering orders have)."""
    assert ordering is NEWEST, ordering
    statement = _pages_by_customer(request.shape, access.reader, status is not None, relations)
    values = _values(access, status)
    return await fetch_pages_by_parent(conn, statement, customer_ids, request, **values)


@shaped
def _counts_by_customer(reader: Reader, status: bool) -> Select[Any]:
    visible = _visible(reader, status).where(any_id(orders.c.user_id)).subquery()
    return select(visible.c.user_id, func.count()).group_by(visible.c.user_id)


async def order_counts_by_customer_ids(
    conn: asyncpg.Connection,
    customer_ids: Sequence[int],
    *,
    status: OrderStatus | None,
    access: Access,
) -> list[int]:
    if status is None:
        return await counts.orders_by_customer_ids(conn, customer_ids, access=access)
    statement = _counts_by_customer(access.reader, status is not None)
    rows = await fetch(conn, statement, ids=list(customer_ids), **_values(access, status))
    return count_per_key(customer_ids, rows)


@shaped
def _recent_by_product(shape: PageShape, reader: Reader, relations: Relations) -> Select[Any]:
    def page_for(product_id: ColumnElement[int]) -> Select[Any]:
        has_product = (
            select(order_items.c.order_id)
            .where(order_items.c.order_id == orders.c.id, order_items.c.product_id == product_id)
            # The parent is two levels up: left to itself SQLAlchemy would add it here.
            .correlate_except(order_items)
            .exists()
        )
        return _visible(reader, False).where(has_product)

    return pages_by_parent(page_for, NEWEST, shape, relations)


async def recent_orders_by_product_ids(
    conn: asyncpg.Connection,
    product_ids: Sequence[int],
    *,
    first: int,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> list[list[Row]]:
    """Each product's `first` newest orders that hold it, newest first."""
    request = PageRequest(limit=first)
    statement = _recent_by_product(request.shape, access.reader, relations)
    pages = await fetch_pages_by_parent(conn, statement, product_ids, request, **access.values)
    return [page.rows for page in pages]  # type: ignore[misc]


@shaped
def _items_by_order_ids() -> Select[Any]:
    product_columns = [column.label(f"product__{column.name}") for column in products.c]
    return (
        select(order_items, *product_columns)
        .join(products, products.c.id == order_items.c.product_id)
        .where(any_id(order_items.c.order_id))
        .order_by(products.c.name, products.c.id)
    )


async def items_by_order_ids(conn: asyncpg.Connection, order_ids: Sequence[int]) -> list[list[Row]]:
    """Each order's items with their products' columns, ordered by product name.

    The product rides along (prefixed `product__`) so that `item.product` needs no
    statement of its own.
    """
    rows = await fetch(conn, _items_by_order_ids(), ids=list(order_ids))
    return all_per_key(order_ids, rows, "order_id")


@shaped
def _totals() -> Select[Any]:
    return (
        select(
            order_items.c.order_id,
            func.sum(order_items.c.quantity),
            func.sum(order_items.c.quantity * order_items.c.unit_price),
        )
        .where(any_id(order_items.c.order_id))
        .group_by(order_items.c.order_id)
    )


async def totals_by_order_ids(
    conn: asyncpg.Connection, order_ids: Sequence[int]
) -> list[OrderTotals]:
    totals = {
        row[0]: order_totals(row[1], row[2])
        for row in await fetch(conn, _totals(), ids=list(order_ids))
    }
    return [totals.get(key, NO_ITEMS) for key in order_ids]
