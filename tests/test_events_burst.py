"""A thousand idle subscribers and a burst of a thousand events, through the real path:
NOTIFY in one transaction, one LISTEN connection, the fan-out of schema/events.py."""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.notify import EVENTS, make_listener
from schema.events import QUEUE_SIZE, Events, PostPublished, Subscription, publish

SUBSCRIBERS = 1000
BURST = 1000
# What the fan-out may hold at its peak, far above what it does hold (reported by the
# test's output with -s): each queue is bounded, and the events are shared.
MEMORY_BOUND = 48 * 1024 * 1024


async def test_a_burst_reaches_a_thousand_subscribers_and_one_that_never_reads_is_dropped(
    database_url: str, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert BURST <= QUEUE_SIZE  # a burst the default queue holds, even unread
    events = Events()
    listener = make_listener(database_url)
    listener.on(EVENTS, events.deliver)
    await listener.start(wait_s=5)
    assert listener.listening
    heard = [0] * SUBSCRIBERS
    everything = asyncio.Event()
    dropped: list[str] = []

    async def read(n: int, feed: Subscription) -> None:
        async for _ in feed:
            heard[n] += 1
            if heard[n] == BURST and all(count >= BURST for count in heard):
                everything.set()

    try:
        async with contextlib.AsyncExitStack() as stack:
            feeds = [
                await stack.enter_async_context(events.subscribe(on_overflow=_fail))
                for _ in range(SUBSCRIBERS)
            ]
            await stack.enter_async_context(
                events.subscribe(on_overflow=lambda: dropped.append("never reads"))
            )
            readers = [asyncio.create_task(read(n, feed)) for n, feed in enumerate(feeds)]
            await asyncio.sleep(0)

            tracemalloc.start()
            try:
                async with sessionmaker.begin() as session:
                    for n in range(BURST):
                        await publish(session, PostPublished(post_id=n, tag_ids=(1, 2, 3)))
                await asyncio.wait_for(everything.wait(), 60)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            print(f"\n{SUBSCRIBERS} subscribers, {BURST} events: peak {peak / 2**20:.1f} MiB")
            assert heard == [BURST] * SUBSCRIBERS
            assert peak < MEMORY_BOUND
            assert dropped == []
            assert len(events) == SUBSCRIBERS + 1

            # One more: the subscriber that never read is a whole queue behind.
            async with sessionmaker.begin() as session:
                await publish(session, PostPublished(post_id=BURST, tag_ids=()))
            for _ in range(500):
                if all(count == BURST + 1 for count in heard):
                    break
                await asyncio.sleep(0.01)
            assert dropped == ["never reads"]
            assert heard == [BURST + 1] * SUBSCRIBERS
            assert len(events) == SUBSCRIBERS
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        await listener.stop()


def _fail() -> None:
    raise AssertionError("a subscriber that reads was dropped")
