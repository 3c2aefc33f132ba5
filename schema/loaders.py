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
from aiodataloader import DataLoader

from db.access import Access
from db.accounts import Viewer
from db.engine import read, read_batch
from db.read_pool import ReadPool, Share

R = TypeVar("R")
Batch = Callable[[asyncpg.Connection, Sequence[int]], Awaitable[Sequence[Any]]]
# A key a loader holds for its next batch, and the future the batch fills.
Queued = tuple[Hashable, "asyncio.Future[Any]"]


class LevelLoader(DataLoader[Any, Any]):
    """aiodataloader's DataLoader as the request path uses it (load, load_many, prime,
    clear), whose batches the lean executor may run in its own task (Loaders.claim).

    The stock loader schedules a task whose only work is to start the batch's task:
    two tasks and two turns of the event loop before the statement is sent, and two
    more before the awaiting resolver goes on. The lean executor instead claims a
    level's batches once the level has queued them, and runs them at once
    (schema/executor/eager.py). Batches nobody claims (Strawberry's executor's, or a
    load after a resolver's first wait) are dispatched as the stock loader would, two
    turns after their first load, in one task each rather than two.

    Every method the request path calls is this class's own, and so is the state they
    share: the stock `__init__` inspects the batch function on every construction
    (whether it is a coroutine function, through `inspect`), which cost a post by ID
    more than a tenth of what its loader did, and a loader is made per request. The
    semantics are the stock loader's: one future per key, cached for the request; a
    batch that fails, or answers the wrong number of values, fails its keys' futures
    and forgets them; a value that is an exception fails its key alone.

    The stock load_many gathers one future per key (a wrapper and a callback each);
    the lean executor asks for a whole level's keys at once, hundreds of them. The
    futures are the same (cache and batching unchanged); once the batch has filled
    them, every await after the first returns at once.
    """

    def __init__(
        self,
        batch: Callable[[list[Any]], Awaitable[Sequence[Any]]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.loop = loop
        self._read = batch
        self._futures: dict[Hashable, asyncio.Future[Any]] = {}
        self._queued: list[Queued] = []

    def load(self, key: Hashable) -> asyncio.Future[Any]:
        future = self._futures.get(key)
        if future is None:
            future = self._futures[key] = self.loop.create_future()
            self._queued.append((key, future))
            if len(self._queued) == 1:
                # Unclaimed, dispatched when aiodataloader would dispatch it (two turns
                # of the event loop on), so that it batches the same loads.
                self.loop.call_soon(self.loop.call_soon, self._dispatch)
        return future

    def load_many(self, keys: Iterable[Any]) -> Awaitable[list[Any]]:  # type: ignore[override]
        return _each([self.load(key) for key in keys])

    def prime(self, key: Hashable, value: Any) -> LevelLoader:
        """`value` for `key` without a read, unless the key is loaded or primed already."""
        if key not in self._futures:
            future = self._futures[key] = self.loop.create_future()
            if issubclass(type(value), Exception):  # type(): as `_run` asks of a Row
                future.set_exception(value)
            else:
                future.set_result(value)
        return self

    def clear(self, key: Hashable) -> LevelLoader:
        self._futures.pop(key, None)
        return self

    def clear_all(self) -> LevelLoader:
        self._futures.clear()
        return self

    def take_batch(self) -> tuple[Coroutine[Any, Any, None], list[Queued]] | None:
        """The batch of the keys queued so far, taken to be run by the caller, with
        those keys and their futures; None when none is queued."""
        queued = self._queued
        if not queued:
            return None
        self._queued = []
        return self._run(queued), queued

    async def _run(self, queued: list[Queued]) -> None:
        """One batch: it fills its keys' futures and never raises (but a cancellation)."""
        try:
            values = await self._read([key for key, _ in queued])
            if len(values) != len(queued):
                raise TypeError(f"a batch of {len(queued)} keys answered {len(values)} values")
        except Exception as exc:
            for key, future in queued:
                self._futures.pop(key, None)
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), value in zip(queued, values, strict=True):
            if future.done():
                continue
            # type(): a Row answers isinstance through its own __getattribute__.
            if issubclass(type(value), Exception):
                future.set_exception(value)
            else:
                future.set_result(value)

    def _dispatch(self) -> None:
        taken = self.take_batch()
        if taken is not None:  # else claimed
            self.loop.create_task(taken[0])


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
        # Values read before their loader was made (load_alone, prime), by loader key:
        # the loader, if a field ever asks for it, starts with them.
        self._primed: dict[Hashable, dict[Hashable, Any]] = {}

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
                batch, queued = taken
                batches.append(batch)
                filled.update(id(future) for _, future in queued)
        return batches, filled

    def _loader(self, name: str, batch: Batch) -> LevelLoader:
        # Nothing a loader holds may point back at these Loaders: a cycle would leave
        # the request's rows to the garbage collector instead of freeing them at once.
        return LevelLoader(partial(read_batch, self.pool, name, batch), asyncio.get_running_loop())

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
            for loaded, value in self._primed.pop(key, {}).items():
                loader.prime(loaded, value)
        return loader

    def prime(
        self,
        read: Callable[..., Awaitable[Sequence[Any]]],
        values: Iterable[tuple[Hashable, Any]],
        **kwargs: Any,
    ) -> None:
        """Values of `of(read, **kwargs)`'s keys, read along with something else (a page
        read ahead with its parent), as `prime` would give them to its loader. The
        loader is made only when a field asks for it: an answer built off the rows
        they came in never does."""
        key = (read, *kwargs.items())
        loader = self._keyed.get(key)
        if loader is not None:
            for loaded, value in values:
                loader.prime(loaded, value)
            return
        # As a loader's prime: a key's first value stands.
        primed = self._primed.get(key)
        self._primed[key] = dict(values) if primed is None else {**dict(values), **primed}

    async def load_alone(
        self, read: Callable[..., Awaitable[Sequence[Any]]], key: Hashable, **kwargs: Any
    ) -> Any:
        """`of(read, **kwargs).load(key)` for a field whose read no other field's could
        join (schema/lookahead.py, `alone`): its one key read at once, without a
        loader's futures and dispatch (a sixteenth of a post by ID's instructions). A
        loader made later for the same read starts with the value, as if it had loaded it."""
        loader_key = (read, *kwargs.items())
        loader = self._keyed.get(loader_key)
        if loader is not None:
            return await loader.load(key)
        primed = self._primed.get(loader_key)
        if primed is not None and key in primed:
            value = primed[key]
            if issubclass(type(value), Exception):
                raise value
            return value
        if takes(read, "access"):
            kwargs["access"] = self.access
        values = await read_batch(self.pool, read.__name__, partial(read, **kwargs), [key])
        if len(values) != 1:
            raise TypeError(f"a batch of 1 keys answered {len(values)} values")
        value = values[0]
        self._primed.setdefault(loader_key, {})[key] = value
        if issubclass(type(value), Exception):  # as a loader fails a key (type(): Row)
            raise value
        return value


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
