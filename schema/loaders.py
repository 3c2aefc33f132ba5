"""Every per-request DataLoader, one line each.

Each batch borrows a pooled connection for its one statement and gives it back at
once, so no connection is held while Python resolves fields, and concurrent
batches never share one. Loaders whose results depend on field arguments are
made per distinct argument set (`_keyed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import asyncpg
from aiodataloader import DataLoader

from db import orders, posts, products, tags, users
from db.access import Access
from db.accounts import Viewer
from db.engine import read
from db.models import OrderStatus
from db.order_relations import OrderRelations
from db.paging import DbRow, Ordering, PageRequest, Relations
from db.post_relations import PostRelations
from db.read_pool import ReadPool, Share

R = TypeVar("R")
T = TypeVar("T")
Made = TypeVar("Made")
V = TypeVar("V")
Batch = Callable[[asyncpg.Connection, Sequence[int]], Awaitable[Sequence[Any]]]


class LevelLoader(DataLoader[Any, Any]):
    """aiodataloader's DataLoader, whose load_many awaits its keys' futures in turn.

    The stock load_many gathers one future per key (a wrapper and a callback each);
    the lean executor asks for a whole level's keys at once, hundreds of them. The
    futures are the same (cache and batching unchanged); once the batch has filled
    them, every await after the first returns at once.
    """

    def load_many(self, keys: Iterable[Any]) -> Awaitable[list[Any]]:  # type: ignore[override]
        return _each([self.load(key) for key in keys])


async def _each(futures: list[asyncio.Future[Any]]) -> list[Any]:
    try:
        return [await future for future in futures]
    except BaseException:
        # A failed batch fails all its keys: mark the rest seen, as gather would.
        for future in futures:
            if future.done() and not future.cancelled():
                future.exception()
        raise


class _PerRequest:
    """A loader made on first use, then kept on the Loaders for the rest of the request.

    `visible=True` for batches that take the reader's `access`.
    """

    def __init__(self, batch: Callable[..., Awaitable[Sequence[Any]]], *, visible: bool = False):
        self.batch = batch
        self.visible = visible

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, loaders: Loaders, owner: type) -> DataLoader[Any, Any]:
        batch, access = self.batch, loaders.access
        if self.visible:
            loader = loaders._loader(lambda c, ids: batch(c, ids, access=access))
        else:
            loader = loaders._loader(batch)
        loaders.__dict__[self.name] = loader  # found before this descriptor from now on
        return loader


class Loaders:
    """Made lazily: a request pays only for the loaders its document uses."""

    user = _PerRequest(users.users_by_ids)
    post = _PerRequest(posts.posts_by_ids, visible=True)
    tag = _PerRequest(tags.tags_by_ids)
    tags_by_post = _PerRequest(tags.tags_by_post_ids)
    product = _PerRequest(products.products_by_ids)
    units_sold = _PerRequest(products.units_sold_by_product_ids)
    order = _PerRequest(orders.orders_by_ids, visible=True)
    items_by_order = _PerRequest(orders.items_by_order_ids)
    order_totals = _PerRequest(orders.totals_by_order_ids)
    post_count_by_tag = _PerRequest(posts.post_counts_by_tag_ids, visible=True)

    def __init__(self, pool: ReadPool | Share, viewer: Viewer | None) -> None:
        self.pool = pool
        self.access = (
            Access(viewer_id=viewer.user_id, is_admin=viewer.is_admin) if viewer else Access()
        )
        self._keyed: dict[Hashable, DataLoader[Any, Any]] = {}

    async def read(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run one db/ read on a connection borrowed for just that statement."""
        return await read(self.pool, fn, *args, **kwargs)

    def _loader(self, batch: Batch) -> DataLoader[Any, Any]:
        # Nothing a loader holds may point back at these Loaders: a cycle would leave
        # the request's rows to the garbage collector instead of freeing them at once.
        pool = self.pool

        async def load(keys: list[int]) -> list[Any]:
            return list(await read(pool, batch, keys))

        return LevelLoader(load)

    def _keyed_loader(self, key: Hashable, batch: Batch) -> DataLoader[Any, Any]:
        loader = self._keyed.get(key)
        if loader is None:
            loader = self._keyed[key] = self._loader(batch)
        return loader

    def post_with(self, relations: PostRelations) -> DataLoader[Any, Any]:
        """Posts by id, with the relations their readers will ask for (post_relations)."""
        return self._by_ids_with(lambda: self.post, posts.posts_by_ids, relations)

    def order_with(self, relations: OrderRelations) -> DataLoader[Any, Any]:
        """Orders by id, with the relations their readers will ask for (order_relations)."""
        return self._by_ids_with(lambda: self.order, orders.orders_by_ids, relations)

    def _by_ids_with(
        self,
        plain: Callable[[], DataLoader[Any, Any]],
        by_ids: Callable[..., Awaitable[Any]],
        relations: Any,
    ) -> DataLoader[Any, Any]:
        if not relations:
            return plain()
        access = self.access
        return self._keyed_loader(
            (by_ids, relations),
            lambda c, ids: by_ids(c, ids, access=access, relations=relations),
        )

    def posts_by_author(
        self,
        request: PageRequest,
        ordering: Ordering,
        where: posts.PostFilter,
        relations: PostRelations,
    ) -> DataLoader[Any, Any]:
        access = self.access
        return self._keyed_loader(
            ("posts_by_author", request, ordering.name, where, relations),
            lambda c, ids: posts.post_pages_by_author_ids(
                c,
                ids,
                request,
                ordering=ordering,
                where=where,
                access=access,
                relations=relations,
            ),
        )

    def post_count_by_author(self, where: posts.PostFilter) -> DataLoader[Any, Any]:
        access = self.access
        return self._keyed_loader(
            ("post_count_by_author", where),
            lambda c, ids: posts.post_counts_by_author_ids(c, ids, where=where, access=access),
        )

    def posts_by_tag(
        self, request: PageRequest, ordering: Ordering, relations: PostRelations
    ) -> DataLoader[Any, Any]:
        access = self.access
        return self._keyed_loader(
            ("posts_by_tag", request, ordering.name, relations),
            lambda c, ids: posts.post_pages_by_tag_ids(
                c, ids, request, ordering=ordering, access=access, relations=relations
            ),
        )

    def orders_by_customer(
        self, request: PageRequest, status: OrderStatus | None, relations: OrderRelations
    ) -> DataLoader[Any, Any]:
        access = self.access
        return self._keyed_loader(
            ("orders_by_customer", request, status, relations),
            lambda c, ids: orders.order_pages_by_customer_ids(
                c, ids, request, status=status, access=access, relations=relations
            ),
        )

    def order_count_by_customer(self, status: OrderStatus | None) -> DataLoader[Any, Any]:
        access = self.access
        return self._keyed_loader(
            ("order_count_by_customer", status),
            lambda c, ids: orders.order_counts_by_customer_ids(
                c, ids, status=status, access=access
            ),
        )


def maker(from_row: Callable[..., Made], relations: Relations) -> Callable[[DbRow], Made]:
    """`from_row` for rows fetched with `relations` (joined ones come made with them)."""
    return partial(from_row, relations=relations) if relations else from_row


async def joined_or_loaded(
    objects: Sequence[T],
    joined: Callable[[T], V | None],
    key: Callable[[T], Hashable],
    loader: Callable[[], DataLoader[Any, Any]],
    make: Callable[[Any], V],
) -> list[V]:
    """Each object's relation: the one that came inside its row (db/post_relations.py,
    db/order_relations.py), else made with `make` from what `loader()` loads by `key`
    (a loader is made on first use: none when every relation came along)."""
    values = [joined(obj) for obj in objects]
    missing = [key(obj) for obj, value in zip(objects, values, strict=True) if value is None]
    if not missing:
        return values  # type: ignore[return-value]
    loaded = iter(await loader().load_many(missing))
    return [make(next(loaded)) if value is None else value for value in values]
