"""Product."""

from __future__ import annotations

import functools
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
        id_, sku, name, price, stock = _columns(prefix)
        return cls(
            pk=getattr(row, id_),
            sku=getattr(row, sku),
            name=getattr(row, name),
            price=getattr(row, price),
            stock=getattr(row, stock),
        )

    @batch("units_sold")
    async def units_sold_of(products: Sequence[Product], info: Info) -> list[int]:
        return list(await info.context.loaders.units_sold.load_many([p.pk for p in products]))

    @strawberry.field(description="Units in orders that are not cancelled.")
    async def units_sold(self, info: Info) -> int:
        [sold] = await Product.units_sold_of([self], info)
        return int(sold)


@functools.cache
def _columns(prefix: str) -> tuple[str, ...]:
    """The row's column names for a product's fields, under `prefix` (an item's row)."""
    return tuple(prefix + key for key in ("id", "sku", "name", "price", "stock"))


@strawberry.type
class ProductConnection(Connection[Product]):
    pass
