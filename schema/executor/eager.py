"""Awaiting several coroutines together, without a task for those that never wait.

The lean executor awaits a level's fields together, so that every batch joins
its loader's queue before any is dispatched. `asyncio.gather` wraps each
coroutine in a task: a trip through the event loop each, even for a field that
never waits (a relation that came in its parents' rows, a leaf computed from
the object). `gather_eagerly` runs each coroutine at once up to its first wait,
as Python 3.12's eager tasks do, and gathers only the ones that did wait: a
level answered from memory costs no task and no loop turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from typing import Any, TypeVar

from schema.executor.compat import hand_on_future, take_future

T = TypeVar("T")


async def gather_eagerly(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """The awaitables' results in order. Every one runs to its end, even after another
    failed (nothing is left half-done or never awaited); then the first failure, in
    the awaitables' order, is raised."""
    results: list[Any] = [None] * len(awaitables)
    waiting: dict[int, Awaitable[Any]] = {}
    for index, awaitable in enumerate(awaitables):
        if not isinstance(awaitable, Coroutine):
            waiting[index] = awaitable
            continue
        try:
            yielded = awaitable.send(None)
        except StopIteration as stop:
            results[index] = stop.value
        except Exception as exc:
            results[index] = _Failed(exc)
        else:
            # Taken, as a task takes it from a future it is handed: another
            # coroutine may await the same future (a loader's cached one), and
            # a future already marked awaited refuses a second await.
            take_future(yielded)
            waiting[index] = _Resumed(awaitable, yielded)
    if len(waiting) == 1:
        [(index, awaitable)] = waiting.items()
        try:
            results[index] = await awaitable
        except Exception as exc:
            results[index] = _Failed(exc)
    elif waiting:
        values = await asyncio.gather(*waiting.values(), return_exceptions=True)
        for index, value in zip(waiting, values, strict=True):
            # A child cancelled on its own comes back as its CancelledError.
            results[index] = _Failed(value) if isinstance(value, BaseException) else value
    for result in results:
        if isinstance(result, _Failed):
            raise result.exception
    return results


class _Failed:
    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


class _Resumed:
    """A coroutine that was run up to its first wait (on `yielded`), awaitable to finish.

    Awaiting it hands `yielded` to the awaiting task as if the coroutine itself had,
    then drives the coroutine on, as `yield from` would.
    """

    __slots__ = ("coroutine", "yielded")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coroutine = coroutine
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, yielded = self.coroutine, self.yielded
        # Handed on as the future's own await would hand it (gather_eagerly took
        # the mark off).
        hand_on_future(yielded)
        while True:
            try:
                sent = yield yielded
            except BaseException as exc:  # a cancellation, passed on to the coroutine
                try:
                    yielded = coroutine.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coroutine.send(sent)
                except StopIteration as stop:
                    return stop.value
