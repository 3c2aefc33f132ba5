"""Product."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import strawberry

from db.paging import DbRow
from schema.batching import batch
from schema.context import Info
from schema.pagination import Connection
from schema.types.node import Node


@strawberry.type
class Product(Node):
    sku: str
    name: str
    price: Decimal
    stock: int

    @classmethod
    def from_row(cls, row: DbRow, prefix: str = "") -> Product:
        return cls(
            pk=getattr(row, f"{prefix}id"),
            sku=getattr(row, f"{prefix}sku"),
            name=getattr(row, f"{prefix}name"),
            price=getattr(row, f"{prefix}price"),
            stock=getattr(row, f"{prefix}stock"),
        )

    @batch("units_sold")
    async def units_sold_of(products: Sequence[Product], info: Info) -> list[int]:
        return list(await info.context.loaders.units_sold.load_many([p.pk for p in products]))

    @strawberry.field(description="Units in orders that are not cancelled.")
    async def units_sold(self, info: Info) -> int:
        [sold] = await Product.units_sold_of([self], info)
        return int(sold)


@strawberry.type
class ProductConnection(Connection[Product]):
    pass
