"""The per-request DataLoaders: one per batch read and arguments, made on first use.

Each batch borrows a pooled connection for its one statement and gives it back at
once, so no connection is held while Python resolves fields, and concurrent
batches never share one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import asyncpg
from aiodataloader import DataLoader, Loader, dispatch_queue_batch

from db.access import Access
from db.accounts import Viewer
from db.engine import read, read_batch
from db.read_pool import ReadPool, Share
from schema.executor.compat import loader_queue, take_loader_queue

R = TypeVar("R")
Batch = Callable[[asyncpg.Connection, Sequence[int]], Awaitable[Sequence[Any]]]


class LevelLoader(DataLoader[Any, Any]):
    """aiodataloader's DataLoader, whose batch the lean executor may run in its own
    task (Loaders.claim), and whose load_many awaits its keys' futures in turn.

    The stock loader schedules a task whose only work is to start the batch's task:
    two tasks and two turns of the event loop before the statement is sent, and two
    more before the awaiting resolver goes on. The lean executor instead claims a
    level's batches once the level has queued them, and runs them at once
    (schema/executor/eager.py). Batches nobody claims (Strawberry's executor's, or a
    load after a resolver's first wait) are dispatched as the stock loader would, two
    turns after their first load, in one task each rather than two.

    The stock load_many gathers one future per key (a wrapper and a callback each);
    the lean executor asks for a whole level's keys at once, hundreds of them. The
    futures are the same (cache and batching unchanged); once the batch has filled
    them, every await after the first returns at once.
    """

    def do_resolve_reject(self, key: Any, future: asyncio.Future[Any]) -> None:
        queue = loader_queue(self)
        queue.append(Loader(key=key, future=future))
        if len(queue) == 1:
            # Unclaimed, dispatched when aiodataloader would dispatch it (two turns
            # of the event loop on), so that it batches the same loads.
            self.loop.call_soon(self.loop.call_soon, self._dispatch)

    def take_batch(self) -> tuple[Coroutine[Any, Any, None], list[Loader]] | None:
        """The batch of the keys queued so far, taken to be run by the caller, with
        those keys and their futures; None when none is queued."""
        queue = take_loader_queue(self)
        return (dispatch_queue_batch(self, queue), queue) if queue else None

    def _dispatch(self) -> None:
        taken = self.take_batch()
        if taken is not None:  # else claimed
            self.loop.create_task(taken[0])

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
        self._keyed: dict[Hashable, LevelLoader] = {}

    async def read(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run one db/ read on a connection borrowed for just that statement."""
        return await read(self.pool, fn, *args, **kwargs)

    def claim(self) -> tuple[list[Coroutine[Any, Any, None]], set[int]]:
        """The batches the request's loaders hold, taken for the caller to run (the
        lean executor, schema/executor/eager.py), and the ids of the futures they fill."""
        batches = []
        filled: set[int] = set()
        for loader in self._keyed.values():
            taken = loader.take_batch()
            if taken is not None:
                batch, queue = taken
                batches.append(batch)
                filled.update(id(queued.future) for queued in queue)
        return batches, filled

    def _loader(self, name: str, batch: Batch) -> LevelLoader:
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
