"""Domain events: published inside the mutations' transactions, heard by every instance.

`publish` sends an event with NOTIFY (db/notify.py) in the mutation's own transaction,
so it goes out at commit, to every instance on the database, and a rolled-back
mutation tells nobody. Each process's one Listener hands what it hears to its `Events`,
which fans it out to this process's subscribers. An event carries ids only: each
subscriber reads the rows itself, through its own loaders and visibility
(schema/subscription.py).

Every subscriber has a bounded queue of its own. One that falls `queue_size` events
behind is dropped (its `on_overflow` closes its connection) rather than slow down, or
take memory from, the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from db.notify import EVENTS, notify
from schema import metrics

log = logging.getLogger("storefront.events")


@dataclass(frozen=True, slots=True)
class PostPublished:
    post_id: int
    tag_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OrderStatusChanged:
    order_id: int


class Missed:
    """Told to every subscriber when events may have gone by unheard (the Listener
    lost its connection to the database and has it back)."""

    def __repr__(self) -> str:
        return "MISSED"


MISSED: Final = Missed()

Event: TypeAlias = PostPublished | OrderStatusChanged
Item: TypeAlias = Event | Missed

# A subscriber's queue, in events. Events are a few ids each, shared by every queue
# that holds them: 1,000 subscribers each 1,000 behind hold 8 MB of pointers.
QUEUE_SIZE = 1000


def encode(event: Event) -> str:
    if isinstance(event, PostPublished):
        fields: dict[str, Any] = {"e": "postPublished", "post": event.post_id}
        fields["tags"] = list(event.tag_ids)
    else:
        fields = {"e": "orderStatusChanged", "order": event.order_id}
    return orjson.dumps(fields).decode()


def decode(payload: str) -> Event | None:
    """The event a payload names; None for one this version does not know (an instance
    of a newer version may publish kinds this one has never heard of)."""
    try:
        fields = orjson.loads(payload)
        if fields["e"] == "postPublished":
            return PostPublished(int(fields["post"]), tuple(int(t) for t in fields["tags"]))
        if fields["e"] == "orderStatusChanged":
            return OrderStatusChanged(int(fields["order"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("ignoring an event payload this version cannot read")
    return None


async def publish(session: AsyncSession, event: Event) -> None:
    """Publish `event` when `session`'s transaction commits; call it inside the block."""
    await notify(session, EVENTS, encode(event))


class Subscription:
    """One subscriber's events, in commit order; iterate with `async for`.

    A deque and one waiter rather than an asyncio.Queue: a dropped subscriber must wake
    to the end of its events, and a thousand of them should cost little while idle.
    """

    def __init__(self, queue_size: int, on_overflow: Callable[[], None]) -> None:
        self._items: deque[Item] = deque()
        self._size = queue_size
        self._on_overflow = on_overflow
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Item:
        while not self._items:
            if self.dropped:
                # One turn of the loop first, so that the close on_overflow scheduled goes
                # out before whatever the subscriber's ending would send (a `complete`).
                await asyncio.sleep(0)
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def offer(self, item: Item) -> bool:
        """Queue `item`; False when the subscriber is (or is now) dropped instead."""
        if self.dropped:
            return False
        if len(self._items) >= self._size:
            # Behind by a whole queue: dropped, and told so by its connection's close,
            # rather than holding more memory or silently skipping events.
            self.dropped = True
            if metrics.metrics is not None:
                metrics.metrics.subscribers_dropped.inc()
                metrics.metrics.events_dropped.inc(len(self._items) + 1)
            self._items.clear()
            # The close first: the subscriber, woken after, finds its socket closed.
            self._on_overflow()
            self._wake()
            return False
        self._items.append(item)
        self._wake()
        return True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Events:
    """This process's subscribers, and the fan-out of what its Listener hears."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(self, on_overflow: Callable[[], None]) -> AsyncIterator[Subscription]:
        """Hear every event heard while the block runs. `on_overflow` is called (once)
        when the subscriber falls a whole queue behind, and its events end there."""
        subscription = Subscription(self.queue_size, on_overflow)
        self._subscribers.add(subscription)
        # The gauge taken once, so that metrics switched on or off meanwhile leave it even.
        gauge = None if metrics.metrics is None else metrics.metrics.subscriptions
        if gauge is not None:
            gauge.inc()
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            if gauge is not None:
                gauge.dec()

    def deliver(self, payload: str) -> None:
        """The Listener's callback for the events channel."""
        event = decode(payload)
        if event is not None:
            self.dispatch(event)

    def missed(self) -> None:
        """The Listener's gap callback: every subscriber is told."""
        self.dispatch(MISSED)

    def dispatch(self, item: Item) -> None:
        delivered = 0
        for subscriber in tuple(self._subscribers):
            delivered += subscriber.offer(item)
            if subscriber.dropped:
                self._subscribers.discard(subscriber)
        if metrics.metrics is not None and delivered:
            metrics.metrics.events_delivered.inc(delivered)
