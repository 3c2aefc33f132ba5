"""createProduct and restockProduct: admins only."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from sqlalchemy.exc import IntegrityError

from db import writes_products
from db.writes import violated_constraint
from schema.context import Info
from schema.ids import decode_id_of
from schema.mutations.payloads import (
    Problems,
    ProductPayload,
    Rejected,
    UserErrorCode,
    require_admin,
    user_error,
)
from schema.types.product import Product

SKU_MAX = 32
NAME_MAX = 200
PRICE_LIMIT = Decimal(10) ** 8
"""Prices are numeric(10,2): below 10^8, in cents."""
CENT = Decimal("0.01")
RESTOCK_MAX = 1_000_000


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    price: Decimal
    stock: int


def _price_problem(price: Decimal) -> str | None:
    if not price.is_finite() or price < 0 or price >= PRICE_LIMIT:
        return "price must be at least 0 and less than 100000000"
    if price != price.quantize(CENT):
        return "price must have at most 2 decimals"
    return None


@strawberry.type
class ProductMutation:
    @strawberry.mutation(description="Admins only.")
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        require_admin(info)
        problems = Problems()
        sku = input.sku.strip()
        name = input.name.strip()
        if problems.text(sku, ["input", "sku"]) and not 1 <= len(sku) <= SKU_MAX:
            problems.invalid(f"sku must be 1 to {SKU_MAX} characters", ["input", "sku"])
        if problems.text(name, ["input", "name"]) and not 1 <= len(name) <= NAME_MAX:
            problems.invalid(f"name must be 1 to {NAME_MAX} characters", ["input", "name"])
        if problem := _price_problem(input.price):
            problems.invalid(problem, ["input", "price"])
        if input.stock < 0:
            problems.invalid("stock must not be negative", ["input", "stock"])
        if problems.errors:
            return ProductPayload(user_errors=problems.errors)

        try:
            async with info.context.services.sessionmaker.begin() as session:
                row = await writes_products.insert_product(
                    session, sku=sku, name=name, price=input.price.quantize(CENT), stock=input.stock
                )
        except IntegrityError as exc:
            if violated_constraint(exc) != "uq_products_sku":
                raise
            taken = user_error(UserErrorCode.TAKEN, "That sku is already taken", ["input", "sku"])
            return ProductPayload(user_errors=[taken])
        info.context.reset_loaders()
        return ProductPayload(product=Product.from_row(row))

    @strawberry.mutation(description="Admins only; adds quantity to stock.")
    async def restock_product(self, info: Info, id: strawberry.ID, quantity: int) -> ProductPayload:
        require_admin(info)
        if not 1 <= quantity <= RESTOCK_MAX:
            message = f"quantity must be 1 to {RESTOCK_MAX}"
            return ProductPayload(
                user_errors=[user_error(UserErrorCode.INVALID, message, ["quantity"])]
            )
        product_id = decode_id_of(id, "Product")
        try:
            async with info.context.services.sessionmaker.begin() as session:
                row = None
                if product_id is not None:
                    row = await writes_products.add_stock(session, product_id, quantity)
                if row is None:
                    if product_id is None or not await writes_products.product_exists(
                        session, product_id
                    ):
                        raise Rejected.one(UserErrorCode.NOT_FOUND, "No such product", ["id"])
                    raise Rejected.one(
                        UserErrorCode.INVALID,
                        f"stock would pass {writes_products.MAX_STOCK}",
                        ["quantity"],
                    )
        except Rejected as rejected:
            return ProductPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return ProductPayload(product=Product.from_row(row))
