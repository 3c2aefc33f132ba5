"""Product.recentOrders: the relationship added through one declaration
(schema/types/product.py), as the README's recipe adds one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderStatus
from tests.conftest import Counted, GraphQL, codes
from tests.factories import make_order, make_product, make_token, make_user, minutes

QUERY = """{ products(first: 10) { edges { node { name
  recentOrders(first: 2) { status createdAt total itemCount customer { username }
    items { quantity product { sku } } } } } } }"""


async def _shop(session: AsyncSession) -> tuple[str, str]:
    """Two products in five orders; returns an admin's token and a customer's."""
    admin = await make_user(session, is_admin=True)
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    widget = await make_product(session, name="Widget", sku="W-1", price="2.00")
    gadget = await make_product(session, name="Gadget", sku="G-1", price="5.00")
    await make_product(session, name="Unsold", sku="U-1")
    plan = [
        (ann, [(widget, 1)], OrderStatus.PAID, 1),
        (ben, [(widget, 2), (gadget, 1)], OrderStatus.CANCELLED, 2),
        (ann, [(gadget, 3)], OrderStatus.PENDING, 3),
        (ben, [(widget, 4)], OrderStatus.SHIPPED, 4),
        (ann, [(gadget, 1), (widget, 1)], OrderStatus.PAID, 0),
    ]
    for customer, lines, status, minute in plan:
        await make_order(session, customer.id, lines, status=status, created_at=minutes(minute))
    return await make_token(session, admin.id), await make_token(session, ann.id)


async def test_admins_see_each_products_newest_orders_in_two_statements(
    session: AsyncSession, counted: Counted
) -> None:
    admin_token, _ = await _shop(session)

    body, log = await counted(QUERY, token=admin_token)

    by_name = {
        e["node"]["name"]: e["node"]["recentOrders"] for e in body["data"]["products"]["edges"]
    }
    assert [(o["status"], o["customer"]["username"], o["total"]) for o in by_name["Widget"]] == [
        ("SHIPPED", "ben", "8.00"),
        ("CANCELLED", "ben", "9.00"),
    ]
    assert [(o["status"], o["itemCount"]) for o in by_name["Gadget"]] == [
        ("PENDING", 3),
        ("CANCELLED", 3),
    ]
    assert by_name["Gadget"][1]["items"] == [
        {"quantity": 1, "product": {"sku": "G-1"}},
        {"quantity": 2, "product": {"sku": "W-1"}},
    ]
    assert by_name["Unsold"] == []
    # the token, the products, every product's orders with their customers, totals
    # and items joined: the budget does not grow with the products or the orders
    assert log.count == 3


async def test_first_bounds_each_products_list(session: AsyncSession, gql: GraphQL) -> None:
    admin_token, _ = await _shop(session)
    query = '{ product(sku: "W-1") { none: recentOrders(first: 0) { status } '
    query += "all: recentOrders(first: 20) { status } default: recentOrders { status } } }"

    body = await gql(query, token=admin_token)

    product = body["data"]["product"]
    assert product["none"] == []
    assert [o["status"] for o in product["all"]] == ["SHIPPED", "CANCELLED", "PAID", "PAID"]
    assert len(product["default"]) == 4


async def test_anyone_but_an_admin_is_refused(session: AsyncSession, gql: GraphQL) -> None:
    _, customer_token = await _shop(session)
    query = '{ product(sku: "W-1") { name recentOrders { status } } }'

    for token in (None, customer_token):
        body = await gql(query, token=token)
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"]["product"] is None


async def test_first_out_of_range_is_bad_user_input(session: AsyncSession, gql: GraphQL) -> None:
    admin_token, _ = await _shop(session)

    for first in (-1, 21):
        body = await gql(
            '{ product(sku: "W-1") { recentOrders(first: ' + str(first) + ") { status } } }",
            token=admin_token,
        )
        assert codes(body) == ["BAD_USER_INPUT"]
        assert "`first`" in body["errors"][0]["message"]
