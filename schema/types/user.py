"""User."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.paging import DbRow
from db.posts import NO_FILTER
from schema.context import Info
from schema.errors import Forbidden
from schema.pagination import Connection, connection, page_request
from schema.types.node import ORDERS_NEWEST, Node, OrderStatus, PostOrder

if TYPE_CHECKING:
    from schema.types.order import OrderConnection
    from schema.types.post import PostConnection, PostFilter

LazyPostConnection = Annotated["PostConnection", strawberry.lazy("schema.types.post")]
LazyOrderConnection = Annotated["OrderConnection", strawberry.lazy("schema.types.order")]
LazyPostFilter = Annotated["PostFilter", strawberry.lazy("schema.types.post")]


@strawberry.type
class User(Node):
    username: str
    full_name: str | None
    created_at: datetime
    _email: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: DbRow) -> User:
        return cls(
            pk=row.id,
            username=row.username,
            full_name=row.full_name,
            created_at=row.created_at,
            _email=row.email,
        )

    @strawberry.field(description="Visible to the user themself and to admins; null otherwise.")
    def email(self, info: Info) -> str | None:
        return self._email if info.context.loaders.access.may_see_private(self.pk) else None

    @strawberry.field(description="Posts of this user that the viewer may see.")
    async def post_count(self, info: Info, published: bool | None = None) -> int:
        from schema.types.post import PostFilter

        where = PostFilter(published=published).to_db()
        count: int = await info.context.loaders.post_count_by_author(where).load(self.pk)
        return count

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
        from schema.types.post import Post, PostConnection

        ordering = (order_by or PostOrder.NEWEST).ordering
        request = page_request(ordering, first=first, after=after, last=last, before=before)
        where_db = filter.to_db() if filter is not None else NO_FILTER
        loaders = info.context.loaders
        page = await loaders.posts_by_author(request, ordering, where_db).load(self.pk)
        return connection(
            PostConnection,
            page,
            ordering,
            Post.from_row,
            lambda: loaders.post_count_by_author(where_db).load(self.pk),
        )

    @strawberry.field(description="Only the user themself and admins; FORBIDDEN for anyone else.")
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: OrderStatus | None = None,
    ) -> LazyOrderConnection:
        from schema.types.order import Order, OrderConnection

        loaders = info.context.loaders
        if not loaders.access.may_see_private(self.pk):
            raise Forbidden("Only the user themself and admins may see a user's orders")
        request = page_request(ORDERS_NEWEST, first=first, after=after)
        db_status = status.db if status is not None else None
        page = await loaders.orders_by_customer(request, db_status).load(self.pk)
        return connection(
            OrderConnection,
            page,
            ORDERS_NEWEST,
            Order.from_row,
            lambda: loaders.order_count_by_customer(db_status).load(self.pk),
        )


@strawberry.type
class UserConnection(Connection[User]):
    pass
