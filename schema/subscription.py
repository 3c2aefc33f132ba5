"""The Subscription root, over the events the mutations publish (schema/events.py).

An event names ids only; each subscriber reads the rows through its own loaders, so
its own visibility applies: a draft is never pushed, an order only to its customer
and admins.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from db.orders import orders_by_ids
from db.posts import posts_by_ids
from db.tags import normalise_name, tag_by_name
from schema import events
from schema.context import Info
from schema.errors import Unauthenticated, coded_error
from schema.ids import decode_id_of
from schema.types.order import Order
from schema.types.post import Post

EVENTS_MAY_BE_MISSED = "EVENTS_MAY_BE_MISSED"


def missed_error() -> Any:
    """What a subscriber is sent when events may have gone by unheard.

    graphql-core reports an exception a subscription yields as that event's error (a
    `next` message with `errors`), and the subscription carries on; typed Any so the
    resolvers' return types stay what the schema shows."""
    return coded_error(
        "Events may have been missed (the service lost its connection to the database); "
        "later events arrive as before. Re-read what you show.",
        EVENTS_MAY_BE_MISSED,
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Fires when a post becomes published "
        "(created published, or updated to published)."
    )
    async def post_published(
        self, info: Info, tag: str | None = None
    ) -> AsyncGenerator[Post, None]:
        context = info.context
        wanted = normalise_name(tag) if tag is not None else None
        wanted_id: int | None = None
        async with context.services.events.subscribe(on_overflow=context.drop) as feed:
            async for event in feed:
                if event is events.MISSED:
                    yield missed_error()
                    continue
                if not isinstance(event, events.PostPublished):
                    continue
                if wanted is not None and wanted_id is None:
                    # Looked up until it exists: a post may bring a new tag. Tags are never
                    # renamed or deleted, so once found its id holds.
                    found = await context.loaders.read(tag_by_name, wanted)
                    wanted_id = None if found is None else found.id
                if wanted is not None and wanted_id not in event.tag_ids:
                    continue
                # Each event reads fresh rows: a connection's loaders must not go stale.
                context.reset_loaders()
                row = await context.loaders.of(posts_by_ids).load(event.post_id)
                if row is not None:
                    yield Post.from_row(row)

    @strawberry.subscription(
        description="Fires on every status change of one order; the customer or an admin only."
    )
    async def order_status_changed(
        self, info: Info, order_id: strawberry.ID
    ) -> AsyncGenerator[Order, None]:
        context = info.context
        if context.viewer is None:
            raise Unauthenticated("Sign in to follow an order")
        pk = decode_id_of(order_id, "Order")
        # An order the viewer may not see behaves like a missing one: nothing ever fires.
        visible = pk is not None and await context.loaders.of(orders_by_ids).load(pk) is not None
        async with context.services.events.subscribe(on_overflow=context.drop) as feed:
            async for event in feed:
                if not visible:
                    continue
                if event is events.MISSED:
                    yield missed_error()
                    continue
                if not isinstance(event, events.OrderStatusChanged) or event.order_id != pk:
                    continue
                context.reset_loaders()
                row = await context.loaders.of(orders_by_ids).load(pk)
                if row is not None:
                    yield Order.from_row(row)
