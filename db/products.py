"""Batch reads of products."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, String, bindparam, func, or_, select

from db import counts
from db.models import OrderStatus, order_items, orders, products
from db.paging import Ordering, Page, PageRequest, any_id, counted, fetch_page, paged
from db.rows import Row, count_per_key, one_per_key
from db.search import contains, search_values
from db.statements import fetch, fetch_one, fetch_value, shaped

BY_NAME = Ordering("product_name", (products.c.name, products.c.id))


@shaped
def _by_ids() -> Select[Any]:
    return select(products).where(any_id(products.c.id))


async def products_by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[Row | None]:
    return one_per_key(ids, await fetch(conn, _by_ids(), ids=list(ids)))


@shaped
def _by_sku() -> Select[Any]:
    return select(products).where(products.c.sku == bindparam("sku", type_=String))


async def product_by_sku(conn: asyncpg.Connection, sku: str) -> Row | None:
    return await fetch_one(conn, _by_sku(), sku=sku)


def _searched(search: bool, in_stock: bool | None) -> Select[Any]:
    stmt = select(products)
    if search:
        stmt = stmt.where(or_(contains(products.c.name), contains(products.c.sku)))
    if in_stock is True:
        stmt = stmt.where(products.c.stock > 0)
    elif in_stock is False:
        stmt = stmt.where(products.c.stock == 0)
    return stmt


async def products_page(
    conn: asyncpg.Connection,
    request: PageRequest,
    *,
    search: str | None,
    in_stock: bool | None,
    ordering: Ordering = BY_NAME,
) -> Page:
    statement = paged(_searched, request.shape, ordering, bool(search), in_stock)
    return await fetch_page(conn, statement, request, **search_values(search))


async def products_count(
    conn: asyncpg.Connection, *, search: str | None, in_stock: bool | None
) -> int:
    if not search and in_stock is None:
        return await counts.rows_in(conn, "products")
    statement = counted(_searched, bool(search), in_stock)
    return int(await fetch_value(conn, statement, **search_values(search)))


@shaped
def _units_sold() -> Select[Any]:
    return (
        select(order_items.c.product_id, func.sum(order_items.c.quantity))
        .join(orders, orders.c.id == order_items.c.order_id)
        .where(any_id(order_items.c.product_id), orders.c.status != OrderStatus.CANCELLED)
        .group_by(order_items.c.product_id)
    )


async def units_sold_by_product_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[int]:
    """Units of each product in orders that are not cancelled."""
    return count_per_key(ids, await fetch(conn, _units_sold(), ids=list(ids)))
