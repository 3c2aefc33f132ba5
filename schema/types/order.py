"""Order and OrderItem."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import strawberry

from db import orders as db_orders
from db import users as db_users
from db.order_relations import (
    CREATED_AT_UNREAD,
    CUSTOMER,
    CUSTOMER_PREFIX,
    ITEMS,
    TOTALS,
    OrderTotals,
    item_count_of,
    items_of,
    total_of,
)
from db.rows import DbRow, columns
from schema.construct import constructor
from schema.pagination import Connection
from schema.relationships import Ride, column_unless_read, related
from schema.types.node import Node, OrderStatus
from schema.types.product import Product
from schema.types.user import User

_ITEM_COLUMNS = columns("quantity", "unit_price")
# Each attribute's column in an orders row, in `from_row`'s order.
_ORDER_ROW = {"pk": "id", "customer_pk": "user_id", "status": "status", "created_at": "created_at"}
_ORDER_COLUMNS = columns(*_ORDER_ROW.values())


@strawberry.type
class OrderItem:
    product: Product
    quantity: int
    unit_price: Decimal = strawberry.field(
        description="The product's price when the order was placed."
    )

    @classmethod
    def from_row(cls, row: DbRow) -> OrderItem:
        quantity, unit_price = _ITEM_COLUMNS(row)
        return _new_item(
            product=Product.from_row(row, prefix="product__"),
            quantity=quantity,
            unit_price=unit_price,
        )

    @strawberry.field
    def subtotal(self) -> Decimal:
        return self.quantity * self.unit_price


_new_item = constructor(OrderItem)
_new_product = constructor(Product)


# The attributes each of items_of's tuples holds, in order; the product's under `product.`.
ITEM_FIELDS = (
    "product.pk",
    "product.sku",
    "product.name",
    "product.price",
    "product.stock",
    "quantity",
    "unit_price",
)


def _joined_items(row: DbRow) -> list[OrderItem]:
    return [
        _new_item(
            product=_new_product(pk=product_id, sku=sku, name=name, price=price, stock=stock),
            quantity=quantity,
            unit_price=unit_price,
        )
        for product_id, sku, name, price, stock, quantity, unit_price in items_of(row)
    ]


def _item_count(totals: OrderTotals) -> int:
    return totals.item_count


def _total(totals: OrderTotals) -> Decimal:
    return totals.total


@strawberry.type
class Order(Node):
    # An answer read straight off the rows reads these (schema/executor/planning.py).
    # Not status: an enum made from the column's text, not the text itself.
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = {
        attribute: column for attribute, column in _ORDER_ROW.items() if attribute != "status"
    }
    customer_pk: strawberry.Private[int]
    status: OrderStatus
    created_at: datetime = column_unless_read(CREATED_AT_UNREAD, cursor_key=True)

    @classmethod
    def from_row(cls, row: DbRow) -> Order:
        pk, customer_pk, status, created_at = _ORDER_COLUMNS(row)
        return _new_order(
            pk=pk, customer_pk=customer_pk, status=OrderStatus.of(status), created_at=created_at
        )

    customer: User = related(
        db_users.users_by_ids,
        key="customer_pk",
        ride=Ride(
            CUSTOMER,
            lambda row: User.from_row(row, CUSTOMER_PREFIX),
            prefix=CUSTOMER_PREFIX,
        ),
    )
    items: list[OrderItem] = related(
        db_orders.items_by_order_ids,
        ride=Ride(ITEMS, _joined_items, values=items_of, fields=ITEM_FIELDS),
        longest=db_orders.MAX_LINES,
        description="Ordered by product name.",
    )
    item_count: int = related(
        db_orders.totals_by_order_ids,
        make=_item_count,
        ride=Ride(TOTALS, item_count_of),
        description="Sum of quantities.",
    )
    total: Decimal = related(
        db_orders.totals_by_order_ids,
        make=_total,
        ride=Ride(TOTALS, total_of),
        description="Sum of quantity * unitPrice, exact.",
    )


_new_order = constructor(Order)


@strawberry.type
class OrderConnection(Connection[Order]):
    pass
