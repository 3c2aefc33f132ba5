"""User."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import posts as db_posts
from db.paging import DbRow
from db.statements import columns
from schema.batching import batch
from schema.context import Info
from schema.errors import Forbidden
from schema.loaders import maker
from schema.pagination import EDGE_NODE, Connection, page_request, per_parent
from schema.types.node import ORDERS_NEWEST, Node, OrderStatus, PostOrder

if TYPE_CHECKING:
    from schema.types import order, post
    from schema.types.order import OrderConnection
    from schema.types.post import PostConnection, PostFilter

LazyPostConnection = Annotated["PostConnection", strawberry.lazy("schema.types.post")]
LazyOrderConnection = Annotated["OrderConnection", strawberry.lazy("schema.types.order")]
LazyPostFilter = Annotated["PostFilter", strawberry.lazy("schema.types.post")]


@functools.cache
def _user_columns(prefix: str) -> Callable[[DbRow], tuple[Any, ...]]:
    return columns("id", "username", "full_name", "created_at", "email", prefix=prefix)


@strawberry.type
class User(Node):
    username: str
    full_name: str | None
    created_at: datetime
    _email: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: DbRow, prefix: str = "") -> User:
        """From a users row, or from the columns of one joined under `prefix`."""
        pk, username, full_name, created_at, email = _user_columns(prefix)(row)
        return cls(
            pk=pk, username=username, full_name=full_name, created_at=created_at, _email=email
        )

    @strawberry.field(description="Visible to the user themself and to admins; null otherwise.")
    def email(self, info: Info) -> str | None:
        return self._email if info.context.loaders.access.may_see_private(self.pk) else None

    @batch("post_count")
    async def post_counts(
        users: Sequence[User], info: Info, published: bool | None = None
    ) -> list[int]:
        where = db_posts.PostFilter(published=published)
        counts = await info.context.loaders.post_count_by_author(where).load_many(_pks(users))
        return list(counts)

    @strawberry.field(description="Posts of this user that the viewer may see.")
    async def post_count(self, info: Info, published: bool | None = None) -> int:
        [count] = await User.post_counts([self], info, published=published)
        return int(count)

    @batch("posts")
    async def posts_of(
        users: Sequence[User],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: post.PostFilter | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> list[post.PostConnection]:
        from schema.types.post import Post, PostConnection, post_list, post_relations

        ordering, request, where = post_list(first, after, last, before, filter, order_by)
        loaders, relations = info.context.loaders, post_relations(info, *EDGE_NODE)
        pages = await loaders.posts_by_author(request, ordering, where, relations).load_many(
            _pks(users)
        )
        count = loaders.post_count_by_author(where).load
        return per_parent(
            PostConnection, users, pages, ordering, maker(Post.from_row, relations), count
        )

    @strawberry.field
    async def posts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: LazyPostFilter | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> LazyPostConnection:
        pages: list[PostConnection] = await User.posts_of(
            [self], info, first=first, after=after, last=last, before=before,
            filter=filter, order_by=order_by,
        )  # fmt: skip
        return pages[0]

    @batch("orders")
    async def orders_of(
        users: Sequence[User],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: OrderStatus | None = None,
    ) -> list[order.OrderConnection]:
        from schema.types.order import Order, OrderConnection, order_relations

        loaders = info.context.loaders
        if not all(loaders.access.may_see_private(user.pk) for user in users):
            raise Forbidden("Only the user themself and admins may see a user's orders")
        request = page_request(ORDERS_NEWEST, first=first, after=after)
        db_status = status.db if status is not None else None
        relations = order_relations(info, *EDGE_NODE)
        pages = await loaders.orders_by_customer(request, db_status, relations).load_many(
            _pks(users)
        )
        count = loaders.order_count_by_customer(db_status).load
        return per_parent(
            OrderConnection, users, pages, ORDERS_NEWEST, maker(Order.from_row, relations), count
        )

    @strawberry.field(description="Only the user themself and admins; FORBIDDEN for anyone else.")
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: OrderStatus | None = None,
    ) -> LazyOrderConnection:
        orders: list[OrderConnection] = await User.orders_of(
            [self], info, first=first, after=after, status=status
        )
        return orders[0]


def _pks(users: Sequence[User]) -> list[int]:
    return [user.pk for user in users]


@strawberry.type
class UserConnection(Connection[User]):
    pass
