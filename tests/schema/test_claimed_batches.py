"""A level's batches run in the lean executor's own task (Loaders.claim with
gather_eagerly), on real pooled connections; what nobody claims still runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import pytest

from db.read_pool import ReadPool
from schema.executor.eager import gather_eagerly
from schema.loaders import Loaders


class Doubling:
    """A db/-style batch read, `read(conn, keys)`, that notes each batch and its task."""

    def __init__(self, hold: asyncio.Event | None = None, lock: asyncio.Lock | None = None) -> None:
        self.batches: list[list[int]] = []
        self.tasks: list[asyncio.Task[object] | None] = []
        self.hold = hold
        self.lock = lock

    async def __call__(self, conn: asyncpg.Connection, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        self.tasks.append(asyncio.current_task())
        if self.hold is not None:
            await self.hold.wait()
        if self.lock is not None:
            async with self.lock:
                pass
        rows = await conn.fetch(
            "SELECT k * 2 FROM unnest($1::int[]) WITH ORDINALITY u(k, n) ORDER BY n", keys
        )
        return [row[0] for row in rows]


def doubling(hold: asyncio.Event | None = None, lock: asyncio.Lock | None = None) -> Doubling:
    read = Doubling(hold, lock)
    read.__name__ = "doubled"  # type: ignore[attr-defined]  # loaders name batches by it
    return read


async def _spin() -> None:
    """Let every callback the loaders scheduled run (theirs are two turns away)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_levels_batch_runs_in_the_executing_task(read_pool: ReadPool) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling()
    loader = loaders.of(read)
    tasks_before = len(asyncio.all_tasks())

    results = await gather_eagerly([loader.load(1), loader.load_many([2, 3])], loaders.claim)

    assert results == [2, [4, 6]]
    assert read.batches == [[1, 2, 3]]
    assert read.tasks == [asyncio.current_task()]
    assert len(asyncio.all_tasks()) == tasks_before
    await _spin()
    assert read.batches == [[1, 2, 3]], "the claimed batch was dispatched again"


async def test_a_load_nobody_claims_is_still_dispatched_once(read_pool: ReadPool) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling()
    assert list(await asyncio.gather(loaders.of(read).load(4), loaders.of(read).load(5))) == [8, 10]
    await _spin()
    assert read.batches == [[4, 5]]
    assert read.tasks[0] is not asyncio.current_task()


async def test_a_field_waiting_on_more_than_the_batch_is_not_left_behind(
    read_pool: ReadPool,
) -> None:
    # A field holds what the batch needs (as a direct read holds a pooled connection)
    # and lets go only once it goes on: the batch must not be run while it is left
    # waiting.
    loaders = Loaders(read_pool, None)
    lock = asyncio.Lock()
    read = doubling(lock=lock)

    async def holds_then_lets_go() -> str:
        async with lock:
            await asyncio.sleep(0.01)
        return "done"

    async def loads(key: int) -> int:
        value: int = await loaders.of(read).load(key)
        return value

    level = gather_eagerly([holds_then_lets_go(), loads(6), loads(7)], loaders.claim)
    assert await asyncio.wait_for(level, 10) == ["done", 12, 14]
    assert read.batches == [[6, 7]]


async def test_cancelling_the_level_cancels_its_claimed_batch_and_fields(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling(hold=asyncio.Event())  # never set: the batch waits until cancelled
    cancelled: list[str] = []

    async def field(key: int) -> int:
        try:
            value: int = await loaders.of(read).load(key)
        except asyncio.CancelledError:
            cancelled.append(f"field {key}")
            raise
        return value

    task = asyncio.create_task(gather_eagerly([field(1), field(2)], loaders.claim))
    await _spin()
    assert read.batches == [[1, 2]]
    assert read.tasks == [task], "the batch runs in the level's own task"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == ["field 1", "field 2"]


async def test_a_failed_batch_fails_its_fields_after_every_field_has_run(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    ran: list[str] = []

    async def broken(conn: asyncpg.Connection, keys: Sequence[int]) -> list[int]:
        await conn.fetch("SELECT 1 / 0")
        return list(keys)

    async def field(key: int) -> int:
        try:
            value: int = await loaders.of(broken).load(key)
            return value
        finally:
            ran.append(f"field {key}")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await gather_eagerly([field(1), field(2)], loaders.claim)
    assert ran == ["field 1", "field 2"]


class Answering:
    """A batch read that answers what `answer(keys)` gives, noting each batch."""

    def __init__(self, answer: Callable[[Sequence[int]], Sequence[Any]]) -> None:
        self.answer = answer
        self.batches: list[list[int]] = []
        self.__name__ = "answering"

    async def __call__(self, conn: asyncpg.Connection, keys: Sequence[int]) -> Sequence[Any]:
        self.batches.append(list(keys))
        assert await conn.fetchval("SELECT 1") == 1  # on a real pooled connection
        return self.answer(keys)


async def test_a_key_is_read_once_per_request_and_primed_keys_not_at_all(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling()
    loader = loaders.of(read)
    loader.prime(7, "primed")
    loader.prime(7, "ignored: 7 is primed already")
    first = loader.load(1)
    assert loader.load(1) is first
    assert await gather_eagerly([first, loader.load(7)], loaders.claim) == [2, "primed"]
    assert await loader.load_many([1, 2]) == [2, 4]
    assert read.batches == [[1], [2]]


async def test_a_failed_batch_fails_its_keys_and_forgets_them(read_pool: ReadPool) -> None:
    loaders = Loaders(read_pool, None)

    def fail(keys: Sequence[int]) -> Sequence[Any]:
        raise ZeroDivisionError

    failing = Answering(fail)
    loader = loaders.of(failing)
    with pytest.raises(ZeroDivisionError):
        await gather_eagerly([loader.load(1), loader.load(2)], loaders.claim)
    failing.answer = lambda keys: [k * 10 for k in keys]
    assert await loader.load_many([1, 2]) == [10, 20], "a failed key is read again"
    assert failing.batches == [[1, 2], [1, 2]]


async def test_a_batch_with_the_wrong_number_of_values_fails_every_key(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    loader = loaders.of(Answering(lambda keys: [1]))
    results = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)
    assert [str(r) for r in results] == ["a batch of 2 keys answered 1 values"] * 2


async def test_a_value_that_is_an_exception_fails_its_key_alone(read_pool: ReadPool) -> None:
    loaders = Loaders(read_pool, None)
    loader = loaders.of(Answering(lambda keys: [LookupError(k) if k == 2 else k for k in keys]))
    results = await asyncio.gather(*map(loader.load, (1, 2, 3)), return_exceptions=True)
    assert results[0] == 1
    assert results[2] == 3
    assert isinstance(results[1], LookupError)


async def test_a_field_alone_reads_its_key_without_a_loader_and_primes_the_next(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling()

    assert await loaders.load_alone(read, 7) == 14
    assert read.batches == [[7]]
    # A loader made later for the same read starts with the key: no second batch.
    loader = loaders.of(read)
    assert await gather_eagerly([loader.load(7), loader.load(8)], loaders.claim) == [14, 16]
    assert read.batches == [[7], [8]]


async def test_a_field_alone_joins_the_loader_already_made_for_its_read(
    read_pool: ReadPool,
) -> None:
    loaders = Loaders(read_pool, None)
    read = doubling()
    primed = loaders.of(read).prime(3, 6)

    assert await loaders.load_alone(read, 3) == 6
    assert read.batches == []
    assert primed is loaders.of(read)


async def test_values_primed_before_their_loader_reach_it_when_it_is_made(
    read_pool: ReadPool,
) -> None:
    # A page read ahead with its parent is primed (Loaders.prime) without making its
    # loader: an answer built off the rows never asks for it. A field that does ask
    # gets the primed values, with no batch, whichever way it asks.
    loaders = Loaders(read_pool, None)
    read = doubling()
    loaders.prime(read, [(1, "one"), (2, "two")])
    loaders.prime(read, [(2, "second"), (3, "three")])  # a key's first value stands

    assert await loaders.load_alone(read, 2) == "two"
    loader = loaders.of(read)
    assert await gather_eagerly(
        [loader.load(1), loader.load(3), loader.load(4)], loaders.claim
    ) == [
        "one",
        "three",
        8,
    ]
    assert read.batches == [[4]]
    # Once the loader is made, a value primed is handed to it at once.
    loaders.prime(read, [(5, "five")])
    assert await loader.load(5) == "five"
    assert read.batches == [[4]]
