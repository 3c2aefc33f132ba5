"""Domain events the mutations publish after their commit, and who hears them.

`publish` is the one door out: today it fans each event out to the subscribers
of this process; the subscriptions work plugs a cross-instance broker in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeAlias

from db.models import OrderStatus

log = logging.getLogger("storefront.events")


@dataclass(frozen=True, slots=True)
class PostPublished:
    post_id: int
    tag_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderStatusChanged:
    order_id: int
    status: OrderStatus


Event: TypeAlias = PostPublished | OrderStatusChanged

QUEUE_SIZE = 1000


class Subscription:
    """One listener's events, in publishing order; iterate with `async for`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()

    def _offer(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # A listener that stopped reading must not hold up the writers.
            log.warning("subscriber is %d events behind; dropping %r", QUEUE_SIZE, event)


_subscribers: set[Subscription] = set()


async def publish(event: Event) -> None:
    """Deliver `event` to every current subscriber. Call it after the commit."""
    for subscriber in tuple(_subscribers):
        subscriber._offer(event)


@contextlib.asynccontextmanager
async def subscribe() -> AsyncIterator[Subscription]:
    """Hear every event published while the block runs."""
    subscription = Subscription()
    _subscribers.add(subscription)
    try:
        yield subscription
    finally:
        _subscribers.discard(subscription)
