"""Tag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db.paging import DbRow
from schema.context import Info
from schema.pagination import Connection, connection, page_request
from schema.types.node import Node, PostOrder

if TYPE_CHECKING:
    from schema.types.post import PostConnection

LazyPostConnection = Annotated["PostConnection", strawberry.lazy("schema.types.post")]


@strawberry.type
class Tag(Node):
    name: str

    @classmethod
    def from_row(cls, row: DbRow) -> Tag:
        return cls(pk=row.id, name=row.name)

    @strawberry.field(description="Posts with this tag that the viewer may see.")
    async def post_count(self, info: Info) -> int:
        count: int = await info.context.loaders.post_count_by_tag.load(self.pk)
        return count

    @strawberry.field
    async def posts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> LazyPostConnection:
        from schema.types.post import Post, PostConnection

        ordering = (order_by or PostOrder.NEWEST).ordering
        request = page_request(ordering, first=first, after=after)
        loaders = info.context.loaders
        page = await loaders.posts_by_tag(request, ordering).load(self.pk)
        return connection(
            PostConnection,
            page,
            ordering,
            Post.from_row,
            lambda: loaders.post_count_by_tag.load(self.pk),
        )


@strawberry.type
class TagConnection(Connection[Tag]):
    pass
