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
        mapping = row._mapping
        return cls(
            pk=mapping[f"{prefix}id"],
            sku=mapping[f"{prefix}sku"],
            name=mapping[f"{prefix}name"],
            price=mapping[f"{prefix}price"],
            stock=mapping[f"{prefix}stock"],
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
