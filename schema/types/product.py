"""Product."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from db import orders as db_orders
from db import products as db_products
from db.rows import DbRow, columns
from schema.construct import constructor
from schema.context import Info
from schema.errors import BadUserInput, Forbidden
from schema.pagination import Connection
from schema.relationships import as_read, related
from schema.types.node import Node

if TYPE_CHECKING:
    from schema.types.order import Order

MAX_RECENT_ORDERS = 20


# Each attribute's column in a products row, in `from_row`'s order.
_PRODUCT_ROW = {"pk": "id", "sku": "sku", "name": "name", "price": "price", "stock": "stock"}


@functools.cache
def _product_columns(prefix: str) -> Callable[[DbRow], tuple[Any, ...]]:
    return columns(*_PRODUCT_ROW.values(), prefix=prefix)


def _recent(first: int = 5) -> Mapping[str, Hashable]:
    if not 0 <= first <= MAX_RECENT_ORDERS:
        raise BadUserInput(f"`first` must be between 0 and {MAX_RECENT_ORDERS}", argument="first")
    return {"first": first}


def _admins_only(products: Sequence[Product], info: Info) -> None:
    if not info.context.loaders.access.is_admin:
        raise Forbidden("Only admins may see a product's orders")


@strawberry.type
class Product(Node):
    # An answer read straight off the rows reads these (schema/executor/planning.py).
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = _PRODUCT_ROW
    sku: str
    name: str
    price: Decimal
    stock: int

    @classmethod
    def from_row(cls, row: DbRow, prefix: str = "") -> Product:
        """From a products row, or from the columns of one joined under `prefix`."""
        pk, sku, name, price, stock = _product_columns(prefix)(row)
        return _new_product(pk=pk, sku=sku, name=name, price=price, stock=stock)

    units_sold: int = related(
        db_products.units_sold_by_product_ids,
        make=as_read,
        description="Units in orders that are not cancelled.",
    )
    recent_orders: list[Annotated[Order, strawberry.lazy("schema.types.order")]] = related(
        db_orders.recent_orders_by_product_ids,
        arguments=_recent,
        allow=_admins_only,
        longest=MAX_RECENT_ORDERS,
        description="Admins only (FORBIDDEN for anyone else): the newest orders that hold "
        f"this product, newest first, at most {MAX_RECENT_ORDERS}.",
    )


_new_product = constructor(Product)


@strawberry.type
class ProductConnection(Connection[Product]):
    pass
