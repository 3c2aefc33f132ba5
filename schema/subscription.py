"""The Subscription root, over the events the mutations publish (schema/events.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from db.orders import orders_by_ids
from db.posts import posts_by_ids
from db.tags import normalise_name
from schema import events
from schema.context import Info
from schema.errors import Unauthenticated
from schema.ids import decode_id_of
from schema.types.order import Order
from schema.types.post import Post


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Fires when a post becomes published "
        "(created published, or updated to published)."
    )
    async def post_published(
        self, info: Info, tag: str | None = None
    ) -> AsyncGenerator[Post, None]:
        wanted = normalise_name(tag) if tag is not None else None
        async with events.subscribe() as feed:
            async for event in feed:
                if not isinstance(event, events.PostPublished):
                    continue
                if wanted is not None and wanted not in event.tag_names:
                    continue
                # Each event reads fresh rows: a connection's loaders must not go stale.
                info.context.reset_loaders()
                row = await info.context.loaders.of(posts_by_ids).load(event.post_id)
                if row is not None:
                    yield Post.from_row(row)

    @strawberry.subscription(
        description="Fires on every status change of one order; the customer or an admin only."
    )
    async def order_status_changed(
        self, info: Info, order_id: strawberry.ID
    ) -> AsyncGenerator[Order, None]:
        if info.context.viewer is None:
            raise Unauthenticated("Sign in to follow an order")
        pk = decode_id_of(order_id, "Order")
        # An order the viewer may not see behaves like a missing one: nothing ever fires.
        visible = (
            pk is not None and await info.context.loaders.of(orders_by_ids).load(pk) is not None
        )
        async with events.subscribe() as feed:
            async for event in feed:
                if not visible or not isinstance(event, events.OrderStatusChanged):
                    continue
                if event.order_id != pk:
                    continue
                info.context.reset_loaders()
                row = await info.context.loaders.of(orders_by_ids).load(pk)
                if row is not None:
                    yield Order.from_row(row)
