"""gather_eagerly: gather's results and errors, with no task for what never waits."""

from __future__ import annotations

import asyncio
import gc

import pytest
from aiodataloader import DataLoader

from schema.executor.eager import gather_eagerly


async def _now(value: int) -> int:
    return value


async def _later(value: int, events: list[str]) -> int:
    await asyncio.sleep(0)
    events.append(f"later {value}")
    return value


async def test_results_come_in_order_whether_or_not_they_waited() -> None:
    events: list[str] = []
    results = await gather_eagerly([_now(1), _later(2, events), _now(3), _later(4, events)])
    assert results == [1, 2, 3, 4]
    assert sorted(events) == ["later 2", "later 4"]
    assert await gather_eagerly([]) == []


async def test_what_never_waits_runs_in_the_callers_task() -> None:
    caller = asyncio.current_task()
    tasks_seen: list[asyncio.Task[object] | None] = []

    async def where() -> int:
        tasks_seen.append(asyncio.current_task())
        return 0

    before = len(asyncio.all_tasks())
    assert await gather_eagerly([where(), where()]) == [0, 0]
    assert tasks_seen == [caller, caller]
    assert len(asyncio.all_tasks()) == before


async def test_every_coroutine_queues_its_keys_before_the_batch_runs() -> None:
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(list(keys))
        return [key * 10 for key in keys]

    loader: DataLoader[int, int] = DataLoader(load)
    results = await gather_eagerly([loader.load(1), _load_two(loader, 2, 3), loader.load(4)])
    assert results == [10, [20, 30], 40]
    assert [sorted(keys) for keys in batches] == [[1, 2, 3, 4]]


async def _load_two(loader: DataLoader[int, int], a: int, b: int) -> list[int]:
    return list(await loader.load_many([a, b]))


async def test_a_failure_is_raised_once_the_rest_have_run() -> None:
    finished: list[str] = []

    async def fails() -> int:
        raise LookupError("no such row")

    async def waits() -> int:
        await asyncio.sleep(0)
        finished.append("waits")
        return 1

    async def after() -> int:
        finished.append("after")
        return 2

    with pytest.raises(LookupError, match="no such row"):
        await gather_eagerly([waits(), fails(), after()])
    gc.collect()  # an unawaited coroutine would warn here, and warnings are errors
    assert sorted(finished) == ["after", "waits"]


async def test_two_coroutines_waiting_on_one_future_both_get_it() -> None:
    shared: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def reads() -> int:
        return await shared

    asyncio.get_running_loop().call_soon(shared.set_result, 7)
    assert await gather_eagerly([reads(), reads(), reads()]) == [7, 7, 7]


async def test_a_failure_after_waiting_is_raised() -> None:
    async def fails_later() -> int:
        await asyncio.sleep(0)
        raise ValueError("bad cursor")

    with pytest.raises(ValueError, match="bad cursor"):
        await gather_eagerly([_now(1), fails_later()])


async def test_cancelling_the_caller_cancels_what_waits() -> None:
    cancelled: list[str] = []
    started = asyncio.Event()

    async def waits() -> int:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append("waits")
            raise
        return 1

    task = asyncio.create_task(gather_eagerly([waits()]))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == ["waits"]


async def test_a_child_cancelled_on_its_own_is_raised_not_returned() -> None:
    doomed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def waits_on_doomed() -> int:
        return await doomed

    asyncio.get_running_loop().call_soon(doomed.cancel)
    with pytest.raises(asyncio.CancelledError):
        await gather_eagerly([waits_on_doomed(), _later(1, [])])
