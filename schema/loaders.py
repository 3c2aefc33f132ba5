"""The per-request DataLoaders: one per batch read and arguments, made on first use.

Each batch borrows a pooled connection for its one statement and gives it back at
once, so no connection is held while Python resolves fields, and concurrent
batches never share one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import asyncpg
from aiodataloader import DataLoader

from db.access import Access
from db.accounts import Viewer
from db.engine import read, read_batch
from db.read_pool import ReadPool, Share

R = TypeVar("R")
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


class Loaders:
    """Made lazily: a request pays only for the loaders its document uses."""

    def __init__(self, pool: ReadPool | Share, viewer: Viewer | None) -> None:
        self.pool = pool
        self.access = (
            Access(viewer_id=viewer.user_id, is_admin=viewer.is_admin) if viewer else Access()
        )
        self._keyed: dict[Hashable, DataLoader[Any, Any]] = {}

    async def read(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run one db/ read on a connection borrowed for just that statement."""
        return await read(self.pool, fn, *args, **kwargs)

    def _loader(self, name: str, batch: Batch) -> DataLoader[Any, Any]:
        # Nothing a loader holds may point back at these Loaders: a cycle would leave
        # the request's rows to the garbage collector instead of freeing them at once.
        pool = self.pool

        async def load(keys: list[int]) -> list[Any]:
            return list(await read_batch(pool, name, batch, keys))

        return LevelLoader(load)

    def of(
        self, read: Callable[..., Awaitable[Sequence[Any]]], **kwargs: Any
    ) -> DataLoader[Any, Any]:
        """The request's loader for `read(conn, keys, **kwargs)`: one per read and
        arguments (which must be hashable), made on first use. A read that takes
        `access` gets the viewer's."""
        key = (read, *kwargs.items())
        loader = self._keyed.get(key)
        if loader is None:
            if takes(read, "access"):
                kwargs["access"] = self.access
            loader = self._keyed[key] = self._loader(read.__name__, partial(_bound, read, kwargs))
        return loader


async def _bound(
    read: Callable[..., Awaitable[Sequence[Any]]],
    kwargs: dict[str, Any],
    conn: asyncpg.Connection,
    keys: Sequence[int],
) -> Sequence[Any]:
    return await read(conn, keys, **kwargs)


@functools.cache
def takes(read: Callable[..., Any], parameter: str) -> bool:
    """Whether a db/ read takes `parameter` (`access`, `relations`): asked per call on
    the request path, so answered once per read."""
    return parameter in inspect.signature(read).parameters
