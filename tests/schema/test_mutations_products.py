"""createProduct and restockProduct: admins only."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import products
from schema.ids import encode_id
from tests.conftest import GraphQL
from tests.factories import make_product, make_token, make_user, snapshot

CREATE = """
mutation Create($input: CreateProductInput!) {
  createProduct(input: $input) {
    product { id sku name price stock unitsSold }
    userErrors { field code message }
  }
}
"""
RESTOCK = """
mutation Restock($id: ID!, $quantity: Int!) {
  restockProduct(id: $id, quantity: $quantity) {
    product { sku stock }
    userErrors { field code message }
  }
}
"""


async def _token(session: AsyncSession, *, is_admin: bool) -> str:
    user = await make_user(session, is_admin=is_admin)
    return await make_token(session, user.id)


def _errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


def _product(**changes: object) -> dict[str, object]:
    return {"input": {"sku": "MUG-1", "name": "Mug", "price": "12.50", "stock": 3, **changes}}


async def test_create_product(gql: GraphQL, session: AsyncSession) -> None:
    token = await _token(session, is_admin=True)

    body = await gql(CREATE, _product(price="12.5"), token=token)

    payload = body["data"]["createProduct"]
    assert payload["userErrors"] == []
    assert payload["product"]["sku"] == "MUG-1"
    assert payload["product"]["price"] == "12.50"
    assert payload["product"]["stock"] == 3
    assert payload["product"]["unitsSold"] == 0
    price = (await session.execute(select(products.c.price))).scalar_one()
    assert str(price) == "12.50"
    await session.commit()


async def test_create_product_reports_invalid_fields(gql: GraphQL, session: AsyncSession) -> None:
    token = await _token(session, is_admin=True)
    before = await snapshot(session)

    cases = [
        (_product(sku=""), ["input", "sku"]),
        (_product(sku="S" * 33), ["input", "sku"]),
        (_product(name=" "), ["input", "name"]),
        (_product(price="-0.01"), ["input", "price"]),
        (_product(price="1.001"), ["input", "price"]),
        (_product(price="100000000"), ["input", "price"]),
        (_product(price="NaN"), ["input", "price"]),
        (_product(stock=-1), ["input", "stock"]),
        (_product(sku="A\u0000"), ["input", "sku"]),
        (_product(name="A\u0000"), ["input", "name"]),
    ]
    for variables, field in cases:
        body = await gql(CREATE, variables, token=token)
        assert body["data"]["createProduct"]["product"] is None
        assert _errors(body["data"]["createProduct"]) == [(field, "INVALID")], variables
    assert await snapshot(session) == before


async def test_create_product_with_a_taken_sku(gql: GraphQL, session: AsyncSession) -> None:
    token = await _token(session, is_admin=True)
    await make_product(session, sku="MUG-1")
    before = await snapshot(session)

    body = await gql(CREATE, _product(), token=token)

    assert _errors(body["data"]["createProduct"]) == [(["input", "sku"], "TAKEN")]
    assert await snapshot(session) == before


async def test_concurrent_creates_of_one_sku_make_one_product(
    gql: GraphQL, session: AsyncSession
) -> None:
    token = await _token(session, is_admin=True)

    bodies = await asyncio.gather(*(gql(CREATE, _product(), token=token) for _ in range(10)))

    codes = sorted(
        "OK" if b["data"]["createProduct"]["product"] else _errors(b["data"]["createProduct"])[0][1]
        for b in bodies
    )
    assert codes == ["OK"] + ["TAKEN"] * 9


async def test_product_mutations_are_for_admins_only(gql: GraphQL, session: AsyncSession) -> None:
    product = await make_product(session, stock=5)
    token = await _token(session, is_admin=False)
    before = await snapshot(session)
    restock = {"id": encode_id("Product", product.id), "quantity": 1}

    for tok, code in ((None, "UNAUTHENTICATED"), (token, "FORBIDDEN")):
        created = await gql(CREATE, _product(), token=tok)
        restocked = await gql(RESTOCK, restock, token=tok)
        for body in (created, restocked):
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == code
    assert await snapshot(session) == before


async def test_restock_adds_to_the_stock(gql: GraphQL, session: AsyncSession) -> None:
    token = await _token(session, is_admin=True)
    product = await make_product(session, sku="MUG-1", stock=5)
    product_id = encode_id("Product", product.id)

    bodies = await asyncio.gather(
        *(gql(RESTOCK, {"id": product_id, "quantity": 2}, token=token) for _ in range(10))
    )

    assert all(b["data"]["restockProduct"]["userErrors"] == [] for b in bodies)
    stocks = sorted(b["data"]["restockProduct"]["product"]["stock"] for b in bodies)
    assert stocks == list(range(7, 26, 2))
    stock = select(products.c.stock).where(products.c.id == product.id)
    assert (await session.execute(stock)).scalar_one() == 25
    await session.commit()


async def test_restock_errors(gql: GraphQL, session: AsyncSession) -> None:
    token = await _token(session, is_admin=True)
    product = await make_product(session, stock=5)
    before = await snapshot(session)
    product_id = encode_id("Product", product.id)

    zero = await gql(RESTOCK, {"id": product_id, "quantity": 0}, token=token)
    missing = await gql(RESTOCK, {"id": encode_id("Product", 999), "quantity": 1}, token=token)
    wrong_type = await gql(
        RESTOCK, {"id": encode_id("User", product.id), "quantity": 1}, token=token
    )
    overflow = await gql(RESTOCK, {"id": product_id, "quantity": 1_000_000}, token=token)

    assert _errors(zero["data"]["restockProduct"]) == [(["quantity"], "INVALID")]
    assert _errors(missing["data"]["restockProduct"]) == [(["id"], "NOT_FOUND")]
    assert _errors(wrong_type["data"]["restockProduct"]) == [(["id"], "NOT_FOUND")]
    assert overflow["data"]["restockProduct"]["userErrors"] == []
    after = await snapshot(session)
    assert after["stock"] == [(product.id, 1_000_005)]
    assert {k: v for k, v in after.items() if k != "stock"} == {
        k: v for k, v in before.items() if k != "stock"
    }
