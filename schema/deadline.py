"""The request's deadline: `asyncio.timeout`'s semantics, at a fraction of its cost.

Every HTTP request runs under one (API.md: each request is cut off after 10 s). The
standard `asyncio.timeout` is an asynchronous context manager with a state machine,
two coroutines and a reschedulable handle; on a post by ID it was 3 % of the server's
instructions per request, as much as everything else of the view put together. This
one does what a request needs of it and nothing more: a timer that cancels the task,
and, on the way out, that cancellation turned into TimeoutError unless someone else
cancelled the task too (the same `uncancel` bookkeeping as asyncio's, so a shutdown's
or a client's cancellation still passes through as a cancellation).

    with Deadline(10.0):
        await work()  # TimeoutError once 10 s have passed
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Deadline:
    __slots__ = ("_cancelling", "_expired", "_handle", "_seconds", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle = task.get_loop().call_later(self._seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.cancel()
        if (
            self._expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
