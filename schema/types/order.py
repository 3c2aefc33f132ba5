"""Order and OrderItem."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

import strawberry

from db.order_relations import (
    CUSTOMER_PREFIX,
    NO_RELATIONS,
    OrderRelations,
    OrderTotals,
    items_of,
    totals_of,
)
from db.paging import DbRow
from db.statements import columns
from schema.batching import batch
from schema.context import Info
from schema.loaders import joined_or_loaded
from schema.lookahead import selected
from schema.pagination import Connection
from schema.types.node import Node, OrderStatus
from schema.types.product import Product
from schema.types.user import User

_ITEM_COLUMNS = columns("quantity", "unit_price")


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
        return cls(
            product=Product.from_row(row, prefix="product__"),
            quantity=quantity,
            unit_price=unit_price,
        )

    @strawberry.field
    def subtotal(self) -> Decimal:
        return self.quantity * self.unit_price


@strawberry.type
class Order(Node):
    customer_pk: strawberry.Private[int]
    status: OrderStatus
    created_at: datetime
    # The customer, totals and items, when they came in the order's own row
    # (db/order_relations.py).
    joined_customer: strawberry.Private[User | None] = None
    joined_totals: strawberry.Private[OrderTotals | None] = None
    joined_items: strawberry.Private[list[OrderItem] | None] = None

    @classmethod
    def from_row(cls, row: DbRow, relations: OrderRelations = NO_RELATIONS) -> Order:
        pk, customer_pk, status, created_at = _ORDER_COLUMNS(row)
        return cls(
            pk=pk,
            customer_pk=customer_pk,
            status=OrderStatus.of(status),
            created_at=created_at,
            joined_customer=User.from_row(row, CUSTOMER_PREFIX) if relations.customer else None,
            joined_totals=totals_of(row) if relations.totals else None,
            joined_items=_joined_items(row) if relations.items else None,
        )

    @batch("customer")
    async def customers(orders: Sequence[Order], info: Info) -> list[User]:
        loaders = info.context.loaders
        return await joined_or_loaded(
            orders, _JOINED_CUSTOMER, _CUSTOMER_PK, lambda: loaders.user, User.from_row
        )

    @strawberry.field
    async def customer(self, info: Info) -> User:
        customers: list[User] = await Order.customers([self], info)
        return customers[0]

    @batch("items")
    async def items_of(orders: Sequence[Order], info: Info) -> list[list[OrderItem]]:
        loaders = info.context.loaders
        return await joined_or_loaded(
            orders, _JOINED_ITEMS, _PK, lambda: loaders.items_by_order, _items
        )

    @strawberry.field(description="Ordered by product name.")
    async def items(self, info: Info) -> list[OrderItem]:
        items: list[list[OrderItem]] = await Order.items_of([self], info)
        return items[0]

    @staticmethod
    async def totals(orders: Sequence[Order], info: Info) -> list[OrderTotals]:
        loaders = info.context.loaders
        return await joined_or_loaded(
            orders, _JOINED_TOTALS, _PK, lambda: loaders.order_totals, _as_loaded
        )

    @batch("item_count")
    async def item_counts(orders: Sequence[Order], info: Info) -> list[int]:
        return [int(t.item_count) for t in await Order.totals(orders, info)]

    @strawberry.field(description="Sum of quantities.")
    async def item_count(self, info: Info) -> int:
        [count] = await Order.item_counts([self], info)
        return int(count)

    @batch("total")
    async def totals_of(orders: Sequence[Order], info: Info) -> list[Decimal]:
        return [Decimal(t.total) for t in await Order.totals(orders, info)]

    @strawberry.field(description="Sum of quantity * unitPrice, exact.")
    async def total(self, info: Info) -> Decimal:
        [total] = await Order.totals_of([self], info)
        return Decimal(total)


_ORDER_COLUMNS = columns("id", "user_id", "status", "created_at")
_JOINED_CUSTOMER, _CUSTOMER_PK = attrgetter("joined_customer"), attrgetter("customer_pk")
_JOINED_TOTALS, _PK = attrgetter("joined_totals"), attrgetter("pk")
_JOINED_ITEMS = attrgetter("joined_items")


def _joined_items(row: DbRow) -> list[OrderItem]:
    return [
        OrderItem(
            product=Product(pk=product_id, sku=sku, name=name, price=price, stock=stock),
            quantity=quantity,
            unit_price=unit_price,
        )
        for product_id, sku, name, price, stock, quantity, unit_price in items_of(row)
    ]


def _items(rows: Sequence[DbRow]) -> list[OrderItem]:
    return [OrderItem.from_row(row) for row in rows]


def _as_loaded(totals: OrderTotals) -> OrderTotals:
    return totals


def order_relations(info: Info, *path: str) -> OrderRelations:
    """What the document reads of the orders at `path` below this field that can come
    in the orders' own statement (schema/lookahead.py)."""
    fields = selected(info, *path)
    return OrderRelations(
        customer="customer" in fields,
        totals="itemCount" in fields or "total" in fields,
        items="items" in fields,
    )


@strawberry.type
class OrderConnection(Connection[Order]):
    pass
