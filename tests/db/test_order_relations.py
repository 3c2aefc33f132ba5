"""An order's customer and totals joined to its row read back as their own reads return them."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db import orders, users
from db.access import Access
from db.engine import read
from db.order_relations import (
    CUSTOMER,
    CUSTOMER_PREFIX,
    ITEMS,
    TOTALS,
    OrderTotals,
    item_count_of,
    items_of,
    total_of,
    totals_of,
)
from db.paging import PageRequest
from db.read_pool import ReadPool
from tests.db.rows import joined_columns
from tests.factories import make_order, make_product, make_user

ALL = frozenset({CUSTOMER, TOTALS, ITEMS})
ADMIN = Access(viewer_id=0, is_admin=True)


async def test_by_ids_brings_what_users_totals_and_items_reads_would(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    carol = await make_user(session, email="carol@example.com")
    widget = await make_product(session, name="zeta widget", price="0.10", stock=7)
    gadget = await make_product(session, name="alpha gadget", price="2.50")
    full = await make_order(session, carol.id, [(widget, 3), (gadget, 1)])
    empty = await make_order(session, carol.id, [])
    ids = [full.id, empty.id]

    rows = await read(read_pool, orders.orders_by_ids, ids, access=ADMIN, relations=ALL)
    [customer] = await read(read_pool, users.users_by_ids, [carol.id])
    totals = await read(read_pool, orders.totals_by_order_ids, ids)
    item_lists = await read(read_pool, orders.items_by_order_ids, ids)

    full_row, empty_row = rows
    assert full_row is not None
    assert empty_row is not None
    assert customer is not None
    assert joined_columns(full_row, CUSTOMER_PREFIX) == dict(customer)
    assert [totals_of(full_row), totals_of(empty_row)] == totals
    assert [item_count_of(full_row), item_count_of(empty_row)] == [t.item_count for t in totals]
    assert [total_of(full_row), total_of(empty_row)] == [t.total for t in totals]
    assert totals == [OrderTotals(4, Decimal("2.80")), OrderTotals(0, Decimal("0.00"))]
    assert items_of(full_row) == [
        (
            r.product__id, r.product__sku, r.product__name, r.product__price,
            r.product__stock, r.quantity, r.unit_price,
        )
        for r in item_lists[0]
    ]  # fmt: skip
    assert [item[2] for item in items_of(full_row)] == ["alpha gadget", "zeta widget"]
    assert items_of(full_row)[1][3:] == (Decimal("0.10"), 7, 3, Decimal("0.10"))
    assert item_lists[1] == []
    assert items_of(empty_row) == []


async def test_pages_keep_their_rows_and_order_with_relations(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    customers = [await make_user(session) for _ in range(2)]
    widget = await make_product(session, price="2.00")
    for n in range(7):
        await make_order(session, customers[n % 2].id, [(widget, n + 1)])
    ids = [c.id for c in customers]
    request = PageRequest(limit=2)

    plain = await read(read_pool, orders.orders_page, request, status=None, access=ADMIN)
    page = await read(
        read_pool, orders.orders_page, request, status=None, access=ADMIN, relations=ALL
    )
    plain_pages = await read(
        read_pool, orders.order_pages_by_customer_ids, ids, request, status=None, access=ADMIN
    )
    pages = await read(
        read_pool, orders.order_pages_by_customer_ids, ids, request, status=None, access=ADMIN,
        relations=ALL,
    )  # fmt: skip

    assert [r.id for r in page.rows] == [r.id for r in plain.rows]
    assert [[r.id for r in p.rows] for p in pages] == [[r.id for r in p.rows] for p in plain_pages]
    for customer, customer_page in zip(customers, pages, strict=True):
        customer_ids = {joined_columns(r, CUSTOMER_PREFIX)["id"] for r in customer_page.rows}
        assert customer_ids == {customer.id}
    totals = await read(read_pool, orders.totals_by_order_ids, [r.id for r in page.rows])
    assert [totals_of(r) for r in page.rows] == totals
    item_lists = await read(read_pool, orders.items_by_order_ids, [r.id for r in page.rows])
    assert [[item[5] for item in items_of(r)] for r in page.rows] == [
        [line.quantity for line in lines] for lines in item_lists
    ]
