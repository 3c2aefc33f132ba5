"""Product."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from db.paging import DbRow
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

    @strawberry.field(description="Units in orders that are not cancelled.")
    async def units_sold(self, info: Info) -> int:
        sold: int = await info.context.loaders.units_sold.load(self.pk)
        return sold


@strawberry.type
class ProductConnection(Connection[Product]):
    pass
