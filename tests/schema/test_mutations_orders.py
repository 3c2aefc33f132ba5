"""placeOrder, cancelOrder, updateOrderStatus."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderStatus, orders, products
from db.rows import DbRow
from schema.events import Event, OrderStatusChanged
from schema.ids import decode_id_of, encode_id
from tests.conftest import GraphQL
from tests.factories import make_order, make_product, make_token, make_user, snapshot

ORDER_FIELDS = """
  order {
    id status itemCount total
    customer { username }
    items { quantity unitPrice subtotal product { sku stock unitsSold } }
  }
  userErrors { field code message }
"""
PLACE = (
    f"mutation Place($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_FIELDS} }} }}"
)
CANCEL = f"mutation Cancel($id: ID!) {{ cancelOrder(id: $id) {{ {ORDER_FIELDS} }} }}"
SET_STATUS = f"""
mutation SetStatus($id: ID!, $status: OrderStatus!) {{
  updateOrderStatus(id: $id, status: $status) {{ {ORDER_FIELDS} }}
}}
"""


async def _signed_in(session: AsyncSession, **kwargs: Any) -> tuple[DbRow, str]:
    user = await make_user(session, **kwargs)
    return user, await make_token(session, user.id)


def _errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


def _line(product: DbRow, quantity: int) -> dict[str, object]:
    return {"productId": encode_id("Product", product.id), "quantity": quantity}


def _order(*lines: dict[str, object], key: str | None = None) -> dict[str, object]:
    return {"input": {"items": list(lines), "idempotencyKey": key}}


async def _stock(session: AsyncSession, product: DbRow) -> int:
    stock = (
        await session.execute(select(products.c.stock).where(products.c.id == product.id))
    ).scalar_one()
    await session.commit()
    return int(stock)


async def _order_count(session: AsyncSession) -> int:
    count = (await session.execute(select(func.count()).select_from(orders))).scalar_one()
    await session.commit()
    return int(count)


async def test_place_order_takes_stock_at_the_current_prices(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session, username="buyer")
    mug = await make_product(session, name="Mug", sku="MUG", price="12.50", stock=10)
    tea = await make_product(session, name="Tea", sku="TEA", price="3.33", stock=5)

    body = await gql(PLACE, _order(_line(tea, 2), _line(mug, 1), _line(tea, 1)), token=token)

    payload = body["data"]["placeOrder"]
    assert payload["userErrors"] == []
    order = payload["order"]
    assert order["status"] == "PENDING"
    assert order["customer"] == {"username": "buyer"}
    assert order["itemCount"] == 4
    assert order["total"] == "22.49"
    assert order["items"] == [
        {
            "quantity": 1,
            "unitPrice": "12.50",
            "subtotal": "12.50",
            "product": {"sku": "MUG", "stock": 9, "unitsSold": 1},
        },
        {
            "quantity": 3,
            "unitPrice": "3.33",
            "subtotal": "9.99",
            "product": {"sku": "TEA", "stock": 2, "unitsSold": 3},
        },
    ]
    assert await _stock(session, mug) == 9
    assert await _stock(session, tea) == 2


async def test_place_order_validates_its_lines(gql: GraphQL, session: AsyncSession) -> None:
    _, token = await _signed_in(session)
    mug = await make_product(session, stock=5000)
    before = await snapshot(session)

    cases = [
        (_order(), [(["input", "items"], "INVALID")]),
        (_order(*[_line(mug, 1)] * 51), [(["input", "items"], "INVALID")]),
        (
            _order(_line(mug, 0), _line(mug, 1001)),
            [
                (["input", "items", "0", "quantity"], "INVALID"),
                (["input", "items", "1", "quantity"], "INVALID"),
            ],
        ),
        (
            _order(_line(mug, 600), _line(mug, 401)),
            [(["input", "items", "0", "quantity"], "INVALID")],
        ),
        (
            _order(_line(mug, 1), {"productId": "garbage", "quantity": 1}),
            [(["input", "items", "1", "productId"], "NOT_FOUND")],
        ),
        (
            _order(_line(mug, 1), {"productId": encode_id("Post", mug.id), "quantity": 1}),
            [(["input", "items", "1", "productId"], "NOT_FOUND")],
        ),
        (
            _order(_line(mug, 1), {"productId": encode_id("Product", 10**9), "quantity": 1}),
            [(["input", "items", "1", "productId"], "NOT_FOUND")],
        ),
        (_order(_line(mug, 1), key=""), [(["input", "idempotencyKey"], "INVALID")]),
        (_order(_line(mug, 1), key="k" * 65), [(["input", "idempotencyKey"], "INVALID")]),
        (_order(_line(mug, 1), key="k\u0000"), [(["input", "idempotencyKey"], "INVALID")]),
    ]
    for variables, expected in cases:
        body = await gql(PLACE, variables, token=token)
        assert body["data"]["placeOrder"]["order"] is None
        assert _errors(body["data"]["placeOrder"]) == expected, variables
    assert await snapshot(session) == before


async def test_out_of_stock_on_a_later_line_rolls_back_the_earlier_ones(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    plenty = await make_product(session, stock=10)
    scarce = await make_product(session, stock=1)
    before = await snapshot(session)

    body = await gql(PLACE, _order(_line(scarce, 2), _line(plenty, 3)), token=token)

    assert _errors(body["data"]["placeOrder"]) == [
        (["input", "items", "0", "quantity"], "OUT_OF_STOCK")
    ]
    assert body["data"]["placeOrder"]["order"] is None
    assert await snapshot(session) == before


async def test_placing_needs_a_signed_in_viewer(gql: GraphQL, session: AsyncSession) -> None:
    mug = await make_product(session)
    before = await snapshot(session)

    body = await gql(PLACE, _order(_line(mug, 1)))

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(session) == before


async def test_fifty_concurrent_orders_for_ten_in_stock_sell_exactly_ten(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    hot = await make_product(session, stock=10)

    bodies = await asyncio.gather(
        *(gql(PLACE, _order(_line(hot, 1)), token=token) for _ in range(50))
    )

    payloads = [body["data"]["placeOrder"] for body in bodies]
    placed = [p for p in payloads if p["order"] is not None]
    refused = [p for p in payloads if p["order"] is None]
    assert len(placed) == 10
    assert len(refused) == 40
    assert all(
        _errors(p) == [(["input", "items", "0", "quantity"], "OUT_OF_STOCK")] for p in refused
    )
    assert await _stock(session, hot) == 0
    assert await _order_count(session) == 10


async def test_twenty_concurrent_retries_with_one_key_make_one_order(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    mug = await make_product(session, stock=100)

    bodies = await asyncio.gather(
        *(gql(PLACE, _order(_line(mug, 2), key="checkout-1"), token=token) for _ in range(20))
    )

    ids = {body["data"]["placeOrder"]["order"]["id"] for body in bodies}
    assert len(ids) == 1
    assert all(body["data"]["placeOrder"]["userErrors"] == [] for body in bodies)
    assert await _order_count(session) == 1
    assert await _stock(session, mug) == 98


async def test_an_idempotency_key_belongs_to_its_customer_and_its_lines(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    _, other = await _signed_in(session)
    mug = await make_product(session, stock=1)
    tea = await make_product(session, stock=100)

    first = await gql(PLACE, _order(_line(mug, 1), key="k"), token=token)
    # the same lines, even though the stock is gone now: the original order
    retry = await gql(PLACE, _order(_line(mug, 1), key="k"), token=token)
    before = await snapshot(session)
    changed = await gql(PLACE, _order(_line(mug, 1), _line(tea, 1), key="k"), token=token)
    assert await snapshot(session) == before
    someone_else = await gql(PLACE, _order(_line(tea, 1), key="k"), token=other)

    assert retry["data"]["placeOrder"]["order"]["id"] == first["data"]["placeOrder"]["order"]["id"]
    assert _errors(changed["data"]["placeOrder"]) == [(["input", "idempotencyKey"], "CONFLICT")]
    assert changed["data"]["placeOrder"]["order"] is None
    assert someone_else["data"]["placeOrder"]["userErrors"] == []
    assert await _order_count(session) == 2


async def test_a_failed_keyed_order_leaves_the_key_free(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    mug = await make_product(session, stock=0)

    refused = await gql(PLACE, _order(_line(mug, 1), key="k"), token=token)
    await session.execute(products.update().values(stock=1))
    await session.commit()
    placed = await gql(PLACE, _order(_line(mug, 1), key="k"), token=token)

    assert _errors(refused["data"]["placeOrder"]) == [
        (["input", "items", "0", "quantity"], "OUT_OF_STOCK")
    ]
    assert placed["data"]["placeOrder"]["order"] is not None


async def test_orders_taking_two_products_in_opposite_orders_both_finish(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    a = await make_product(session, stock=1000)
    b = await make_product(session, stock=1000)

    bodies = await asyncio.gather(
        *(
            gql(
                PLACE,
                _order(_line(a, 1), _line(b, 1)) if n % 2 else _order(_line(b, 1), _line(a, 1)),
                token=token,
            )
            for n in range(40)
        )
    )

    assert all(body["data"]["placeOrder"]["userErrors"] == [] for body in bodies)
    assert await _stock(session, a) == 960
    assert await _stock(session, b) == 960


async def test_cancel_puts_the_stock_back_once(
    gql: GraphQL, session: AsyncSession, published: asyncio.Queue[Event | None]
) -> None:
    _, token = await _signed_in(session)
    mug = await make_product(session, stock=5)
    placed = await gql(PLACE, _order(_line(mug, 3)), token=token)
    order_id = placed["data"]["placeOrder"]["order"]["id"]

    bodies = await asyncio.gather(*(gql(CANCEL, {"id": order_id}, token=token) for _ in range(5)))
    event = await asyncio.wait_for(published.get(), 1)

    payloads = [body["data"]["cancelOrder"] for body in bodies]
    done = [p for p in payloads if p["order"] is not None]
    assert len(done) == 1
    assert done[0]["order"]["status"] == "CANCELLED"
    assert done[0]["order"]["items"][0]["product"]["stock"] == 5
    assert done[0]["order"]["items"][0]["product"]["unitsSold"] == 0
    assert all(_errors(p) == [(["id"], "CONFLICT")] for p in payloads if p["order"] is None)
    assert await _stock(session, mug) == 5
    assert event == OrderStatusChanged(order_id=decode_id_of(order_id, "Order") or 0)
    # Once: the refused cancels, rolled back, published nothing.
    await asyncio.sleep(0.2)
    assert published.empty()


async def test_cancel_of_another_customers_order(gql: GraphQL, session: AsyncSession) -> None:
    customer = await make_user(session)
    mug = await make_product(session, stock=5)
    order = await make_order(session, customer.id, [(mug, 2)])
    _, stranger = await _signed_in(session)
    _, admin = await _signed_in(session, is_admin=True)
    before = await snapshot(session)
    order_id = encode_id("Order", order.id)

    refused = await gql(CANCEL, {"id": order_id}, token=stranger)
    anonymous = await gql(CANCEL, {"id": order_id})

    assert _errors(refused["data"]["cancelOrder"]) == [(["id"], "NOT_FOUND")]
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(session) == before
    by_admin = await gql(CANCEL, {"id": order_id}, token=admin)
    assert by_admin["data"]["cancelOrder"]["order"]["status"] == "CANCELLED"
    assert await _stock(session, mug) == 7  # the factory takes no stock; cancelling returns 2


async def test_order_status_moves_forward_only(
    gql: GraphQL, session: AsyncSession, published: asyncio.Queue[Event | None]
) -> None:
    _, token = await _signed_in(session)
    _, admin = await _signed_in(session, is_admin=True)
    mug = await make_product(session, stock=5)
    placed = await gql(PLACE, _order(_line(mug, 2)), token=token)
    order_id = placed["data"]["placeOrder"]["order"]["id"]
    pk = decode_id_of(order_id, "Order")

    async def status(to: str) -> dict[str, Any]:
        body = await gql(SET_STATUS, {"id": order_id, "status": to}, token=admin)
        payload: dict[str, Any] = body["data"]["updateOrderStatus"]
        return payload

    before = await snapshot(session)
    for to in ("PENDING", "SHIPPED", "CANCELLED"):
        assert _errors(await status(to)) == [(["status"], "CONFLICT")], to
    assert await snapshot(session) == before

    assert (await status("PAID"))["order"]["status"] == "PAID"
    assert await asyncio.wait_for(published.get(), 1) == OrderStatusChanged(pk or 0)
    assert _errors(await status("PENDING")) == [(["status"], "CONFLICT")]
    assert (await status("SHIPPED"))["order"]["status"] == "SHIPPED"

    before = await snapshot(session)
    for to in ("PAID", "PENDING", "SHIPPED", "CANCELLED"):
        assert _errors(await status(to)) == [(["status"], "CONFLICT")], to
    cancelled = await gql(CANCEL, {"id": order_id}, token=token)
    assert _errors(cancelled["data"]["cancelOrder"]) == [(["id"], "CONFLICT")]
    assert await snapshot(session) == before
    assert await _stock(session, mug) == 3


async def test_a_cancelled_order_cannot_ship(gql: GraphQL, session: AsyncSession) -> None:
    customer = await make_user(session)
    mug = await make_product(session, stock=5)
    order = await make_order(session, customer.id, [(mug, 1)], status=OrderStatus.CANCELLED)
    _, admin = await _signed_in(session, is_admin=True)
    before = await snapshot(session)

    for to in ("PAID", "SHIPPED"):
        body = await gql(
            SET_STATUS, {"id": encode_id("Order", order.id), "status": to}, token=admin
        )
        assert _errors(body["data"]["updateOrderStatus"]) == [(["status"], "CONFLICT")]
    assert await snapshot(session) == before


async def test_order_status_is_for_admins_only(gql: GraphQL, session: AsyncSession) -> None:
    customer, token = await _signed_in(session)
    mug = await make_product(session)
    order = await make_order(session, customer.id, [(mug, 1)])
    _, admin = await _signed_in(session, is_admin=True)
    before = await snapshot(session)
    variables = {"id": encode_id("Order", order.id), "status": "PAID"}

    as_customer = await gql(SET_STATUS, variables, token=token)
    anonymous = await gql(SET_STATUS, variables)
    missing = await gql(
        SET_STATUS, {"id": encode_id("Order", 10**6), "status": "PAID"}, token=admin
    )

    assert as_customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert _errors(missing["data"]["updateOrderStatus"]) == [(["id"], "NOT_FOUND")]
    assert await snapshot(session) == before


async def test_prices_are_copied_when_the_order_is_placed(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    mug = await make_product(session, price="0.10", stock=100)

    body = await gql(PLACE, _order(_line(mug, 3)), token=token)
    await session.execute(products.update().values(price=Decimal("99.99")))
    await session.commit()
    order_id = body["data"]["placeOrder"]["order"]["id"]
    later = await gql(
        "query($id: ID!) { node(id: $id) { ... on Order { total } } }",
        {"id": order_id},
        token=token,
    )

    assert body["data"]["placeOrder"]["order"]["total"] == "0.30"
    assert later["data"]["node"]["total"] == "0.30"
