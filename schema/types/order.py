"""Order and OrderItem."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.paging import DbRow
from schema.context import Info
from schema.pagination import Connection
from schema.types.node import Node, OrderStatus
from schema.types.product import Product

if TYPE_CHECKING:
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

    @strawberry.field
    async def customer(self, info: Info) -> LazyUser:
        from schema.types.user import User

        return User.from_row(await info.context.loaders.user.load(self.customer_pk))

    @strawberry.field(description="Ordered by product name.")
    async def items(self, info: Info) -> list[OrderItem]:
        rows = await info.context.loaders.items_by_order.load(self.pk)
        return [OrderItem.from_row(row) for row in rows]

    @strawberry.field(description="Sum of quantities.")
    async def item_count(self, info: Info) -> int:
        totals = await info.context.loaders.order_totals.load(self.pk)
        return int(totals.item_count)

    @strawberry.field(description="Sum of quantity * unitPrice, exact.")
    async def total(self, info: Info) -> Decimal:
        totals = await info.context.loaders.order_totals.load(self.pk)
        return Decimal(totals.total)


@strawberry.type
class OrderConnection(Connection[Order]):
    pass
