"""Tag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.paging import DbRow
from db.posts import tagged_ordering
from db.statements import columns
from schema.batching import batch
from schema.context import Info
from schema.loaders import maker
from schema.pagination import EDGE_NODE, Connection, page_request, per_parent
from schema.types.node import Node, PostOrder

if TYPE_CHECKING:
    from schema.types import post
    from schema.types.post import PostConnection

LazyPostConnection = Annotated["PostConnection", strawberry.lazy("schema.types.post")]


_TAG_COLUMNS = columns("id", "name")


@strawberry.type
class Tag(Node):
    name: str

    @classmethod
    def from_row(cls, row: DbRow) -> Tag:
        pk, name = _TAG_COLUMNS(row)
        return cls(pk=pk, name=name)

    @batch("post_count")
    async def post_counts(tags: Sequence[Tag], info: Info) -> list[int]:
        return list(await info.context.loaders.post_count_by_tag.load_many(_pks(tags)))

    @strawberry.field(description="Posts with this tag that the viewer may see.")
    async def post_count(self, info: Info) -> int:
        [count] = await Tag.post_counts([self], info)
        return int(count)

    @batch("posts")
    async def posts_of(
        tags: Sequence[Tag],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> list[post.PostConnection]:
        from schema.types.post import Post, PostConnection, post_relations

        ordering = tagged_ordering((order_by or PostOrder.NEWEST).ordering)
        request = page_request(ordering, first=first, after=after)
        loaders, relations = info.context.loaders, post_relations(info, *EDGE_NODE)
        pages = await loaders.posts_by_tag(request, ordering, relations).load_many(_pks(tags))
        count = loaders.post_count_by_tag.load
        return per_parent(
            PostConnection, tags, pages, ordering, maker(Post.from_row, relations), count
        )

    @strawberry.field
    async def posts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> LazyPostConnection:
        pages: list[PostConnection] = await Tag.posts_of(
            [self], info, first=first, after=after, order_by=order_by
        )
        return pages[0]


def _pks(tags: Sequence[Tag]) -> list[int]:
    return [tag.pk for tag in tags]


@strawberry.type
class TagConnection(Connection[Tag]):
    pass
