"""Awaiting several coroutines together, without a task for those that never wait.

The lean executor awaits a level's fields together, so that every batch joins
its loader's queue before any is dispatched. `asyncio.gather` wraps each
coroutine in a task: a trip through the event loop each, even for a field that
never waits (a relation that came in its parents' rows, a leaf computed from
the object). `gather_eagerly` runs each coroutine at once up to its first wait,
as Python 3.12's eager tasks do, and gathers only the ones that did wait: a
level answered from memory costs no task and no loop turn.

A level whose fields wait only on their loaders' futures then runs the batches
those loaders queued (`claim`) in the same task, and the fields go on as soon as
the batches have filled them: a post by ID waits for its one statement and
nothing else, where aiodataloader's own dispatch would take two tasks and four
turns of the event loop around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import Any, TypeVar, cast

from schema.executor.compat import hand_on_future, take_future

T = TypeVar("T")


# The batches a level's loads queued, each taken from its loader to be run by the
# caller, and the futures they fill (Loaders.claim).
Claim = Callable[[], tuple[list[Coroutine[Any, Any, Any]], set[int]]]


async def gather_eagerly(awaitables: Sequence[Awaitable[T]], claim: Claim | None = None) -> list[T]:
    """The awaitables' results in order. Every one runs to its end, even after another
    failed (nothing is left half-done or never awaited); then the first failure, in
    the awaitables' order, is raised.

    `claim`: once every awaitable has waited, the batches their loads queued, to run in
    this task at once rather than each in a task of its own, two turns of the event
    loop later; then each awaitable whose future a batch filled goes on at once.
    """
    results: list[Any] = [None] * len(awaitables)
    waiting: dict[int, Awaitable[Any]] = {}
    for index, awaitable in enumerate(awaitables):
        if isinstance(awaitable, Coroutine):
            _step(index, awaitable, None, results, waiting)
        else:
            waiting[index] = awaitable
    while claim is not None and waiting:
        batches, filled = claim()
        if not batches:
            break
        if not all(_waits_on(awaitable, filled) for awaitable in waiting.values()):
            # Something waits on more than the batches (a read that holds a pooled
            # connection a batch may need): they run alongside it, as loaders run them.
            for batch in batches:
                asyncio.get_running_loop().create_task(batch)
            break
        try:
            # A batch fails its keys' futures, not itself: only a cancellation comes out.
            # One batch (a root lookup, most levels) is awaited as it is: through
            # gather_eagerly, each of its statement's waits would run _Resumed's loop.
            await (batches[0] if len(batches) == 1 else gather_eagerly(batches))
        except BaseException:
            await _cancelled(list(waiting.values()))
            raise
        for index, awaitable in list(waiting.items()):
            del waiting[index]
            if isinstance(awaitable, _Resumed):
                _step(index, awaitable.coroutine, None, results, waiting)
            else:  # a future itself, now done (_waits_on)
                future = cast("asyncio.Future[Any]", awaitable)
                if future.cancelled():
                    results[index] = _Failed(asyncio.CancelledError())
                elif (exception := future.exception()) is not None:
                    results[index] = _Failed(exception)
                else:
                    results[index] = future.result()
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


def _step(
    index: int,
    coroutine: Coroutine[Any, Any, Any],
    sent: Any,
    results: list[Any],
    waiting: dict[int, Awaitable[Any]],
) -> None:
    """Run `coroutine` on (sending `sent`) to its end, into `results`, or to its next
    wait, into `waiting`."""
    try:
        yielded = coroutine.send(sent)
    except StopIteration as stop:
        results[index] = stop.value
    except Exception as exc:
        results[index] = _Failed(exc)
    else:
        # Taken, as a task takes it from a future it is handed: another
        # coroutine may await the same future (a loader's cached one), and
        # a future already marked awaited refuses a second await.
        take_future(yielded)
        waiting[index] = _Resumed(coroutine, yielded)


async def _cancelled(waiting: list[Awaitable[Any]]) -> None:
    """Cancel the coroutines among `waiting` as a cancelled task's `asyncio.gather`
    cancels its children: each gets the CancelledError where it waits, and any
    clean-up it then awaits is waited for."""
    cleaning: list[Awaitable[Any]] = []
    for awaitable in waiting:
        if not isinstance(awaitable, _Resumed):
            continue  # a future: nothing runs behind it
        coroutine = awaitable.coroutine
        try:
            yielded = coroutine.throw(asyncio.CancelledError())
        except BaseException:
            continue  # ended, most often by passing the CancelledError on
        take_future(yielded)
        cleaning.append(_Resumed(coroutine, yielded))
    if cleaning:
        await asyncio.gather(*cleaning, return_exceptions=True)


def _waits_on(awaitable: Awaitable[Any], futures: set[int]) -> bool:
    """Whether `awaitable` is one of `futures` (by id), or a coroutine waiting on one,
    or on a future already done: once they are filled, it may go on without a task,
    its future's own await reading the result as after a task resumed it."""
    if not isinstance(awaitable, _Resumed):
        return id(awaitable) in futures
    yielded = awaitable.yielded
    return id(yielded) in futures or (asyncio.isfuture(yielded) and yielded.done())


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
