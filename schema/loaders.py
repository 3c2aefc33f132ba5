"""Every per-request DataLoader, one line each.

Each batch borrows a pooled connection for its one statement and gives it back at
once, so no connection is held while Python resolves fields, and concurrent
batches never share one. Loaders whose results depend on field arguments are
made per distinct argument set (`_keyed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import orders, posts, products, tags, users
from db.access import Access
from db.accounts import Viewer
from db.engine import read
from db.models import OrderStatus
from db.paging import Ordering, PageRequest

R = TypeVar("R")
Batch = Callable[[AsyncConnection, Sequence[int]], Awaitable[Sequence[Any]]]


class Loaders:
    def __init__(self, engine: AsyncEngine, viewer: Viewer | None) -> None:
        self.engine = engine
        self.access = (
            Access(viewer_id=viewer.user_id, is_admin=viewer.is_admin) if viewer else Access()
        )
        access = self.access
        self._keyed: dict[Hashable, DataLoader[Any, Any]] = {}

        self.user = self._loader(users.users_by_ids)
        self.post = self._loader(lambda c, ids: posts.posts_by_ids(c, ids, access=access))
        self.tag = self._loader(tags.tags_by_ids)
        self.tags_by_post = self._loader(tags.tags_by_post_ids)
        self.product = self._loader(products.products_by_ids)
        self.units_sold = self._loader(products.units_sold_by_product_ids)
        self.order = self._loader(lambda c, ids: orders.orders_by_ids(c, ids, access=access))
        self.items_by_order = self._loader(orders.items_by_order_ids)
        self.order_totals = self._loader(orders.totals_by_order_ids)
        self.post_count_by_tag = self._loader(
            lambda c, ids: posts.post_counts_by_tag_ids(c, ids, access=access)
        )

    async def read(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run one db/ read on a connection borrowed for just that statement."""
        return await read(self.engine, fn, *args, **kwargs)

    def _loader(self, batch: Batch) -> DataLoader[Any, Any]:
        async def load(keys: list[int]) -> list[Any]:
            return list(await read(self.engine, batch, keys))

        return DataLoader(load)

    def _keyed_loader(self, key: Hashable, batch: Batch) -> DataLoader[Any, Any]:
        loader = self._keyed.get(key)
        if loader is None:
            loader = self._keyed[key] = self._loader(batch)
        return loader

    def posts_by_author(
        self, request: PageRequest, ordering: Ordering, where: posts.PostFilter
    ) -> DataLoader[Any, Any]:
        return self._keyed_loader(
            ("posts_by_author", request, ordering.name, where),
            lambda c, ids: posts.post_pages_by_author_ids(
                c, ids, request, ordering=ordering, where=where, access=self.access
            ),
        )

    def post_count_by_author(self, where: posts.PostFilter) -> DataLoader[Any, Any]:
        return self._keyed_loader(
            ("post_count_by_author", where),
            lambda c, ids: posts.post_counts_by_author_ids(c, ids, where=where, access=self.access),
        )

    def posts_by_tag(self, request: PageRequest, ordering: Ordering) -> DataLoader[Any, Any]:
        return self._keyed_loader(
            ("posts_by_tag", request, ordering.name),
            lambda c, ids: posts.post_pages_by_tag_ids(
                c, ids, request, ordering=ordering, access=self.access
            ),
        )

    def orders_by_customer(
        self, request: PageRequest, status: OrderStatus | None
    ) -> DataLoader[Any, Any]:
        return self._keyed_loader(
            ("orders_by_customer", request, status),
            lambda c, ids: orders.order_pages_by_customer_ids(
                c, ids, request, status=status, access=self.access
            ),
        )

    def order_count_by_customer(self, status: OrderStatus | None) -> DataLoader[Any, Any]:
        return self._keyed_loader(
            ("order_count_by_customer", status),
            lambda c, ids: orders.order_counts_by_customer_ids(
                c, ids, status=status, access=self.access
            ),
        )
