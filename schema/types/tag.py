"""Tag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry

from db import posts as db_posts
from db.rows import DbRow, columns
from schema.construct import constructor
from schema.pagination import Connection, page_request
from schema.relationships import Listing, as_read, connection, related
from schema.types.node import Node, PostOrder

if TYPE_CHECKING:
    from schema.types.post import PostConnection

# Each attribute's column in a tags row, in `from_row`'s order.
_TAG_ROW = {"pk": "id", "name": "name"}
_TAG_COLUMNS = columns(*_TAG_ROW.values())


def _tagged_list(
    first: int | None = None,
    after: str | None = None,
    order_by: PostOrder | None = PostOrder.NEWEST,
) -> Listing:
    ordering = db_posts.tagged_ordering((order_by or PostOrder.NEWEST).ordering)
    return Listing(page_request(ordering, first=first, after=after), ordering)


@strawberry.type
class Tag(Node):
    # An answer read straight off the rows reads these (schema/executor/planning.py).
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = _TAG_ROW
    name: str

    @classmethod
    def from_row(cls, row: DbRow) -> Tag:
        pk, name = _TAG_COLUMNS(row)
        return _new_tag(pk=pk, name=name)

    post_count: int = related(
        db_posts.post_counts_by_tag_ids,
        make=as_read,
        description="Posts with this tag that the viewer may see.",
    )
    posts: Annotated[PostConnection, strawberry.lazy("schema.types.post")] = connection(
        db_posts.post_pages_by_tag_ids, db_posts.post_counts_by_tag_ids, arguments=_tagged_list
    )


_new_tag = constructor(Tag)


@strawberry.type
class TagConnection(Connection[Tag]):
    pass
