"""Order and OrderItem."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.order_relations import OrderRelations
from db.paging import DbRow
from schema.batching import batch
from schema.context import Info
from schema.lookahead import selected
from schema.pagination import Connection
from schema.types.node import Node, OrderStatus
from schema.types.product import Product

if TYPE_CHECKING:
    from schema.types import user
    from schema.types.user import User

LazyUser = Annotated["User", strawberry.lazy("schema.types.user")]


@strawberry.type
class OrderItem:
    product: Product
    quantity: int
    unit_price: Decimal = strawberry.field(
        description="The product's price when the order was placed."
    )

    @classmethod
    def from_row(cls, row: DbRow) -> OrderItem:
        return cls(
            product=Product.from_row(row, prefix="product__"),
            quantity=row.quantity,
            unit_price=row.unit_price,
        )

    @strawberry.field
    def subtotal(self) -> Decimal:
        return self.quantity * self.unit_price


@strawberry.type
class Order(Node):
    customer_pk: strawberry.Private[int]
    status: OrderStatus
    created_at: datetime

    @classmethod
    def from_row(cls, row: DbRow) -> Order:
        return cls(
            pk=row.id,
            customer_pk=row.user_id,
            status=OrderStatus.of(row.status),
            created_at=row.created_at,
        )

    @batch("customer")
    async def customers(orders: Sequence[Order], info: Info) -> list[user.User]:
        from schema.types.user import User

        rows = await info.context.loaders.user.load_many([o.customer_pk for o in orders])
        return [User.from_row(row) for row in rows]

    @strawberry.field
    async def customer(self, info: Info) -> LazyUser:
        customers: list[User] = await Order.customers([self], info)
        return customers[0]

    @batch("items")
    async def items_of(orders: Sequence[Order], info: Info) -> list[list[OrderItem]]:
        lists = await info.context.loaders.items_by_order.load_many(_pks(orders))
        return [[OrderItem.from_row(row) for row in rows] for rows in lists]

    @strawberry.field(description="Ordered by product name.")
    async def items(self, info: Info) -> list[OrderItem]:
        items: list[list[OrderItem]] = await Order.items_of([self], info)
        return items[0]

    @batch("item_count")
    async def item_counts(orders: Sequence[Order], info: Info) -> list[int]:
        totals = await info.context.loaders.order_totals.load_many(_pks(orders))
        return [int(t.item_count) for t in totals]

    @strawberry.field(description="Sum of quantities.")
    async def item_count(self, info: Info) -> int:
        [count] = await Order.item_counts([self], info)
        return int(count)

    @batch("total")
    async def totals_of(orders: Sequence[Order], info: Info) -> list[Decimal]:
        totals = await info.context.loaders.order_totals.load_many(_pks(orders))
        return [Decimal(t.total) for t in totals]

    @strawberry.field(description="Sum of quantity * unitPrice, exact.")
    async def total(self, info: Info) -> Decimal:
        [total] = await Order.totals_of([self], info)
        return Decimal(total)


def order_relations(info: Info, *path: str) -> OrderRelations:
    """What the document reads of the orders at `path` below this field that can come
    in the orders' own statement (schema/lookahead.py)."""
    fields = selected(info, *path)
    return OrderRelations(
        customer="customer" in fields, totals="itemCount" in fields or "total" in fields
    )


def _pks(orders: Sequence[Order]) -> list[int]:
    return [order.pk for order in orders]


@strawberry.type
class OrderConnection(Connection[Order]):
    pass
