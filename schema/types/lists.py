"""The arguments of lists that several fields share, each written once."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from db import posts as db_posts
from schema.errors import BadUserInput
from schema.pagination import page_request
from schema.relationships import Listing
from schema.types.node import ORDERS_NEWEST, OrderStatus, PostOrder


def _aware(value: datetime | None, argument: str) -> datetime | None:
    """A date-time without an offset is taken as UTC; one beyond what UTC can hold is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(f"`{argument}` is out of range", argument=argument) from None
    return value


@strawberry.input
class PostFilter:
    published: bool | None = None
    author_username: str | None = None
    tag: str | None = strawberry.field(default=None, description="posts carrying this tag name")
    search: str | None = strawberry.field(
        default=None, description="case-insensitive substring of title or body"
    )
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_db(self) -> db_posts.PostFilter:
        return db_posts.PostFilter(
            published=self.published,
            author_username=self.author_username,
            tag=self.tag,
            search=self.search,
            created_after=_aware(self.created_after, "filter.createdAfter"),
            created_before=_aware(self.created_before, "filter.createdBefore"),
        )


def post_list(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: PostFilter | None = None,
    order_by: PostOrder | None = PostOrder.NEWEST,
) -> Listing:
    """The arguments of a filtered list of posts (`Query.posts`, `User.posts`), checked."""
    ordering = (order_by or PostOrder.NEWEST).ordering
    request = page_request(ordering, first=first, after=after, last=last, before=before)
    where = filter.to_db() if filter is not None else db_posts.NO_FILTER
    return Listing(request, ordering, {"where": where})


def order_list(
    first: int | None = None, after: str | None = None, status: OrderStatus | None = None
) -> Listing:
    """The arguments of a list of orders (`Query.orders`, `User.orders`), newest first."""
    request = page_request(ORDERS_NEWEST, first=first, after=after)
    return Listing(request, ORDERS_NEWEST, {"status": status.db if status is not None else None})
