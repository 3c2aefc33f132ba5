"""placeOrder, cancelOrder, updateOrderStatus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from db import writes_orders
from db.access import Access
from db.models import OrderStatus as DbOrderStatus
from db.orders import MAX_LINES
from db.rows import DbRow
from schema.context import Info
from schema.events import OrderStatusChanged, publish
from schema.ids import decode_id_of
from schema.mutations.payloads import (
    OrderPayload,
    Problems,
    Rejected,
    UserErrorCode,
    require_admin,
    require_viewer,
    user_error,
)
from schema.types.node import OrderStatus
from schema.types.order import Order

QUANTITY_MAX = 1000
KEY_MAX = 64
CANCELLABLE = frozenset({DbOrderStatus.PENDING, DbOrderStatus.PAID})
NEXT_STATUS = {DbOrderStatus.PENDING: DbOrderStatus.PAID, DbOrderStatus.PAID: DbOrderStatus.SHIPPED}


@strawberry.input
class OrderLineInput:
    product_id: strawberry.ID
    quantity: int


@strawberry.input
class PlaceOrderInput:
    items: list[OrderLineInput]
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retrying with the same key returns the first order "
        "instead of placing another.",
    )


@dataclass(slots=True)
class Line:
    """One product's merged quantity, and the first input line that named it."""

    index: int
    quantity: int

    def field(self, name: str) -> list[str | int]:
        return ["input", "items", self.index, name]


def _lines(problems: Problems, items: Sequence[OrderLineInput]) -> dict[int, Line]:
    """{product id: line}, lines for the same product merged."""
    if not 1 <= len(items) <= MAX_LINES:
        problems.invalid(f"an order has 1 to {MAX_LINES} lines", ["input", "items"])
        return {}
    merged: dict[int, Line] = {}
    for index, item in enumerate(items):
        product_id = decode_id_of(item.product_id, "Product")
        if product_id is None:
            path: list[str | int] = ["input", "items", index, "productId"]
            problems.add(UserErrorCode.NOT_FOUND, "No such product", path)
        if not 1 <= item.quantity <= QUANTITY_MAX:
            path = ["input", "items", index, "quantity"]
            problems.invalid(f"quantity must be 1 to {QUANTITY_MAX}", path)
        elif product_id is not None:
            line = merged.setdefault(product_id, Line(index=index, quantity=0))
            line.quantity += item.quantity
    for line in merged.values():
        if line.quantity > QUANTITY_MAX:
            problems.invalid(
                f"the lines for this product ask for more than {QUANTITY_MAX} in all",
                line.field("quantity"),
            )
    return merged


async def _take_stock(session: AsyncSession, order_id: int, lines: dict[int, Line]) -> None:
    """Take every line's stock, products in id order; Rejected when one is short or missing."""
    for product_id in sorted(lines):
        line = lines[product_id]
        if await writes_orders.take_stock(session, order_id, product_id, line.quantity):
            continue
        found = await writes_orders.existing_product_ids(session, list(lines))
        missing = sorted(
            (line for pid, line in lines.items() if pid not in found), key=lambda m: m.index
        )
        if missing:
            raise Rejected(
                [
                    user_error(UserErrorCode.NOT_FOUND, "No such product", m.field("productId"))
                    for m in missing
                ]
            )
        raise Rejected.one(
            UserErrorCode.OUT_OF_STOCK,
            "Not enough of this product in stock",
            line.field("quantity"),
        )


async def _locked_order(session: AsyncSession, access: Access, order_id: int | None) -> DbRow:
    """The order, locked; another customer's order is missing as far as the viewer knows.

    `access` is the request's own (`loaders.access`), so an order a query would hide is
    missing here too.
    """
    order = None if order_id is None else await writes_orders.lock_order(session, order_id)
    if order is None or not access.may_see_order(order.user_id):
        raise Rejected.one(UserErrorCode.NOT_FOUND, "No such order", ["id"])
    return order


def _status_name(status: DbOrderStatus) -> str:
    return status.name


@strawberry.type
class OrderMutation:
    @strawberry.mutation
    async def place_order(self, info: Info, input: PlaceOrderInput) -> OrderPayload:
        viewer = require_viewer(info)
        problems = Problems()
        lines = _lines(problems, input.items)
        key = input.idempotency_key
        if (
            key is not None
            and problems.text(key, ["input", "idempotencyKey"])
            and not 1 <= len(key) <= KEY_MAX
        ):
            problems.invalid(
                f"idempotencyKey must be 1 to {KEY_MAX} characters", ["input", "idempotencyKey"]
            )
        if problems.errors:
            return OrderPayload(user_errors=problems.errors)

        try:
            async with info.context.services.sessionmaker.begin() as session:
                # The order row comes first: a retry racing the first request waits here,
                # on the key's unique index, until the first one commits or rolls back.
                order = await writes_orders.insert_order(
                    session, user_id=viewer.user_id, idempotency_key=key
                )
                if order is None:
                    assert key is not None
                    order = await writes_orders.order_by_key(
                        session, user_id=viewer.user_id, idempotency_key=key
                    )
                    wanted = {pid: line.quantity for pid, line in lines.items()}
                    if await writes_orders.order_lines(session, order.id) != wanted:
                        raise Rejected.one(
                            UserErrorCode.CONFLICT,
                            "This idempotencyKey was used for an order with other lines",
                            ["input", "idempotencyKey"],
                        )
                else:
                    await _take_stock(session, order.id, lines)
        except Rejected as rejected:
            return OrderPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return OrderPayload(order=Order.from_row(order))

    @strawberry.mutation(
        description="The customer or an admin; PENDING or PAID orders only; puts the stock back."
    )
    async def cancel_order(self, info: Info, id: strawberry.ID) -> OrderPayload:
        require_viewer(info)
        access = info.context.loaders.access
        try:
            async with info.context.services.sessionmaker.begin() as session:
                order = await _locked_order(session, access, decode_id_of(id, "Order"))
                if order.status not in CANCELLABLE:
                    raise Rejected.one(
                        UserErrorCode.CONFLICT,
                        f"A {_status_name(order.status)} order cannot be cancelled",
                        ["id"],
                    )
                row = await writes_orders.set_status(session, order.id, DbOrderStatus.CANCELLED)
                await writes_orders.return_stock(session, order.id)
                await publish(session, OrderStatusChanged(order_id=row.id))
        except Rejected as rejected:
            return OrderPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return OrderPayload(order=Order.from_row(row))

    @strawberry.mutation(description="Admins only; PENDING -> PAID -> SHIPPED.")
    async def update_order_status(
        self, info: Info, id: strawberry.ID, status: OrderStatus
    ) -> OrderPayload:
        require_admin(info)
        access = info.context.loaders.access
        try:
            async with info.context.services.sessionmaker.begin() as session:
                order = await _locked_order(session, access, decode_id_of(id, "Order"))
                if NEXT_STATUS.get(order.status) != status.db:
                    raise Rejected.one(
                        UserErrorCode.CONFLICT,
                        f"A {_status_name(order.status)} order cannot become {status.value}; "
                        "orders move PENDING -> PAID -> SHIPPED",
                        ["status"],
                    )
                row = await writes_orders.set_status(session, order.id, status.db)
                await publish(session, OrderStatusChanged(order_id=row.id))
        except Rejected as rejected:
            return OrderPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return OrderPayload(order=Order.from_row(row))
