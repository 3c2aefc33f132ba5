"""Post and its connection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import strawberry

from db import tags as db_tags
from db import users as db_users
from db.post_relations import (
    AUTHOR,
    AUTHOR_PREFIX,
    BODY_UNREAD,
    CREATED_AT_UNREAD,
    PUBLISHED_AT_UNREAD,
    TAGS,
    UPDATED_AT_UNREAD,
    tag_ids_of,
    tag_names_of,
    tags_of,
)
from db.rows import DbRow, columns
from schema.construct import constructor
from schema.pagination import Connection
from schema.relationships import Ride, column_unless_read, related
from schema.types.node import Node
from schema.types.tag import Tag
from schema.types.user import User

# Each attribute's column in a posts row, in `from_row`'s order.
_POST_ROW = {
    "pk": "id",
    "author_pk": "author_id",
    "title": "title",
    "body": "body",
    "published": "published",
    "published_at": "published_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_POST_COLUMNS = columns(*_POST_ROW.values())

# Tags come with every post of most pages (schema/construct.py).
_new_tag = constructor(Tag)


@strawberry.type
class Post(Node):
    # An answer read straight off the rows reads these (schema/executor/planning.py).
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = _POST_ROW
    author_pk: strawberry.Private[int]
    title: str
    body: str = column_unless_read(BODY_UNREAD)
    published: bool
    published_at: datetime | None = column_unless_read(PUBLISHED_AT_UNREAD)
    created_at: datetime = column_unless_read(CREATED_AT_UNREAD, cursor_key=True)
    updated_at: datetime | None = column_unless_read(UPDATED_AT_UNREAD)

    @classmethod
    def from_row(cls, row: DbRow) -> Post:
        pk, author_pk, title, body, published, published_at, created_at, updated_at = _POST_COLUMNS(
            row
        )
        return _new_post(
            pk=pk,
            author_pk=author_pk,
            title=title,
            body=body,
            published=published,
            published_at=published_at,
            created_at=created_at,
            updated_at=updated_at,
        )

    author: User = related(
        db_users.users_by_ids,
        key="author_pk",
        ride=Ride(
            AUTHOR,
            lambda row: User.from_row(row, AUTHOR_PREFIX),
            prefix=AUTHOR_PREFIX,
        ),
    )
    tags: list[Tag] = related(
        db_tags.tags_by_post_ids,
        ride=Ride(
            TAGS,
            lambda row: [_new_tag(pk=pk, name=name) for pk, name in tags_of(row)],
            values=tags_of,
            fields=("pk", "name"),
            columns=(tag_ids_of, tag_names_of),
        ),
        longest=db_tags.MAX_TAGS_PER_POST,
        description="Ordered by tag name.",
    )


_new_post = constructor(Post)


@strawberry.type
class PostConnection(Connection[Post]):
    pass
