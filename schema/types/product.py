"""Product."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import strawberry

from db.paging import DbRow
from db.statements import columns
from schema.batching import batch
from schema.context import Info
from schema.pagination import Connection
from schema.types.node import Node


@functools.cache
def _product_columns(prefix: str) -> Callable[[DbRow], tuple[Any, ...]]:
    return columns("id", "sku", "name", "price", "stock", prefix=prefix)


@strawberry.type
class Product(Node):
    sku: str
    name: str
    price: Decimal
    stock: int

    @classmethod
    def from_row(cls, row: DbRow, prefix: str = "") -> Product:
        """From a products row, or from the columns of one joined under `prefix`."""
        pk, sku, name, price, stock = _product_columns(prefix)(row)
        return cls(pk=pk, sku=sku, name=name, price=price, stock=stock)

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
