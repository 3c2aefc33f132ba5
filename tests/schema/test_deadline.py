"""The request deadline behaves as asyncio.timeout does where a request can tell."""

from __future__ import annotations

import asyncio
import time

import pytest

from schema.deadline import Deadline


async def test_work_past_the_deadline_is_cut_off_with_timeout_error() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError), Deadline(0.05):
        await asyncio.sleep(5)
    assert time.monotonic() - started < 1
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0, "the deadline's own cancellation was taken back"


async def test_work_within_the_deadline_is_untouched_and_leaves_no_timer() -> None:
    with Deadline(0.05):
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)  # past the deadline: nothing is cancelled any more
    with Deadline(5):
        result = await asyncio.sleep(0, "done")
    assert result == "done"


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    # A shutdown or a client gone: the request's task is cancelled, not timed out.
    entered = asyncio.Event()

    async def request() -> None:
        with Deadline(5):
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.create_task(request())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_error_inside_passes_through_unchanged() -> None:
    with pytest.raises(LookupError), Deadline(5):
        raise LookupError("not a timeout")


def test_outside_a_task_it_refuses() -> None:
    with pytest.raises(RuntimeError), Deadline(1):
        pass
