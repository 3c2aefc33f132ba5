"""An order's customer and totals, fetched in the order's own statement when asked.

The counterpart of db/post_relations.py for orders: `OrderRelations` says what
the caller will read; it is joined to the order rows after any LIMIT. The
customer's columns are a users row's, named `customer__<column>`
(`CUSTOMER_PREFIX`); `totals_of` reads the totals as `totals_by_order_ids` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import FromClause, Select, func, select, true

from db.models import order_items
from db.paging import DbRow, Relations
from db.statements import columns
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
    return OrderTotals(item_count=int(item_count), total=Decimal(total).quantize(CENT))


@dataclass(frozen=True, slots=True)
class OrderRelations(Relations):
    """Which of an order's relations come with its row."""

    customer: bool = False
    totals: bool = False

    def join(self, stmt: Select[Any], order: FromClause) -> Select[Any]:
        """`stmt` (whose FROM has `order`, the orders table or a page of it) with the
        asked relations' columns: the customer's as `customer__<column>`, the totals
        as `items_quantity` and `items_total`."""
        if self.customer:
            stmt = with_user(stmt, order.c.user_id, CUSTOMER_PREFIX)
        if self.totals:
            stmt = _with_totals(stmt, order)
        return stmt


NO_RELATIONS = OrderRelations()


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
    # An aggregate without GROUP BY always yields one row (NULLs for no items).
    return stmt.add_columns(summed.c.items_quantity, summed.c.items_total).join(summed, true())


_SUMS = columns("items_quantity", "items_total")


def totals_of(row: DbRow) -> OrderTotals:
    """The totals that came with an order row fetched with `OrderRelations(totals=True)`."""
    return order_totals(*_SUMS(row))
