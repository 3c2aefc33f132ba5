"""An order's customer, totals and items as joins into the order's own statement
(db/relations.py).

The customer's columns are a users row's, named `customer__<column>`
(`CUSTOMER_PREFIX`); `totals_of` reads the totals as `totals_by_order_ids` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import FromClause, Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import order_items, products
from db.relations import Join, join_lateral, unread
from db.rows import DbRow, columns
from db.users import with_user

CUSTOMER_PREFIX = "customer__"
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderTotals:
    item_count: int
    total: Decimal


NO_ITEMS = OrderTotals(item_count=0, total=Decimal("0.00"))


def order_totals(item_count: Any, total: Any) -> OrderTotals:
    """From SQL sums (NULL when the order has no items)."""
    if item_count is None:
        return NO_ITEMS
    return OrderTotals(item_count=_quantity(item_count), total=_money(total))


def _quantity(summed: Any) -> int:
    return 0 if summed is None else int(summed)


def _money(summed: Any) -> Decimal:
    return NO_ITEMS.total if summed is None else Decimal(summed).quantize(CENT)


def _with_totals(stmt: Select[Any], order: FromClause) -> Select[Any]:
    line = order_items.c.quantity * order_items.c.unit_price
    summed = (
        select(
            func.sum(order_items.c.quantity).label("items_quantity"),
            func.sum(line).label("items_total"),
        )
        .where(order_items.c.order_id == order.c.id)
        .lateral("order_totals")
    )
    return join_lateral(stmt, order, summed)


# An order's items, one array per column, each ordered by product name.
_ITEM_ARRAYS = (
    (products.c.id, "item_product_ids"),
    (products.c.sku, "item_skus"),
    (products.c.name, "item_names"),
    (products.c.price, "item_prices"),
    (products.c.stock, "item_stocks"),
    (order_items.c.quantity, "item_quantities"),
    (order_items.c.unit_price, "item_unit_prices"),
)


def _with_items(stmt: Select[Any], order: FromClause) -> Select[Any]:
    by_name = (products.c.name, products.c.id)
    listed = (
        select(
            *(
                func.array_agg(aggregate_order_by(column, *by_name)).label(label)
                for column, label in _ITEM_ARRAYS
            )
        )
        .select_from(order_items.join(products, products.c.id == order_items.c.product_id))
        .where(order_items.c.order_id == order.c.id)
        .lateral("order_item_list")
    )
    return join_lateral(stmt, order, listed)


CUSTOMER = Join(
    "order.customer", lambda stmt, order: with_user(stmt, order.c.user_id, CUSTOMER_PREFIX)
)
TOTALS = Join("order.totals", _with_totals)
ITEMS = Join("order.items", _with_items)
# What orders are ordered by and a cursor's key, which only Order.createdAt shows.
CREATED_AT_UNREAD = unread("created_at")


_SUMS = columns("items_quantity", "items_total")
_ITEM_LISTS = columns(*(label for _, label in _ITEM_ARRAYS))
Item = tuple[int, str, str, Decimal, int, int, Decimal]


def items_of(row: DbRow) -> list[Item]:
    """The items that came with an order row fetched with `ITEMS`,
    by product name, each as (product id, sku, name, price, stock, quantity, unit
    price): what `items_by_order_ids` gives as `product__<column>`, quantity and
    unit_price."""
    lists = _ITEM_LISTS(row)
    if lists[0] is None:
        return []
    return list(zip(*lists, strict=True))


def totals_of(row: DbRow) -> OrderTotals:
    """The totals that came with an order row fetched with `TOTALS`."""
    return order_totals(*_SUMS(row))


# One each for the two fields that ride on TOTALS, which make only their own value.
def item_count_of(row: DbRow) -> int:
    """`totals_of(row).item_count`, for a row fetched with `TOTALS`."""
    return _quantity(_SUMS(row)[0])


def total_of(row: DbRow) -> Decimal:
    """`totals_of(row).total`, for a row fetched with `TOTALS`."""
    return _money(_SUMS(row)[1])
