"""Post, its filter input and its connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter

import strawberry

from db import posts as db_posts
from db.paging import DbRow, Ordering, PageRequest
from db.post_relations import AUTHOR_PREFIX, NO_RELATIONS, PostRelations, tags_of
from db.statements import columns
from schema.batching import batch
from schema.context import Info
from schema.errors import BadUserInput
from schema.loaders import joined_or_loaded
from schema.lookahead import selected
from schema.pagination import Connection, page_request
from schema.types.node import Node, PostOrder
from schema.types.tag import Tag
from schema.types.user import User


@strawberry.type
class Post(Node):
    author_pk: strawberry.Private[int]
    title: str
    body: str
    published: bool
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime | None
    # The author and tags, when they came in the post's own row (db/post_relations.py).
    joined_author: strawberry.Private[User | None] = None
    joined_tags: strawberry.Private[list[Tag] | None] = None

    @classmethod
    def from_row(cls, row: DbRow, relations: PostRelations = NO_RELATIONS) -> Post:
        pk, author_pk, title, body, published, published_at, created_at, updated_at = _POST_COLUMNS(
            row
        )
        return cls(
            pk=pk,
            author_pk=author_pk,
            title=title,
            body=body,
            published=published,
            published_at=published_at,
            created_at=created_at,
            updated_at=updated_at,
            joined_author=User.from_row(row, AUTHOR_PREFIX) if relations.author else None,
            joined_tags=(
                [Tag(pk=tag_id, name=name) for tag_id, name in tags_of(row)]
                if relations.tags
                else None
            ),
        )

    @batch("author")
    async def authors(posts: Sequence[Post], info: Info) -> list[User]:
        loaders = info.context.loaders
        return await joined_or_loaded(
            posts, _JOINED_AUTHOR, _AUTHOR_PK, lambda: loaders.user, User.from_row
        )

    @strawberry.field
    async def author(self, info: Info) -> User:
        authors: list[User] = await Post.authors([self], info)
        return authors[0]

    @batch("tags")
    async def tags_of(posts: Sequence[Post], info: Info) -> list[list[Tag]]:
        loaders = info.context.loaders
        return await joined_or_loaded(posts, _JOINED_TAGS, _PK, lambda: loaders.tags_by_post, _tags)

    @strawberry.field(description="Ordered by tag name.")
    async def tags(self, info: Info) -> list[Tag]:
        tags: list[list[Tag]] = await Post.tags_of([self], info)
        return tags[0]


_POST_COLUMNS = columns(
    "id", "author_id", "title", "body", "published", "published_at", "created_at", "updated_at"
)
_JOINED_AUTHOR, _AUTHOR_PK = attrgetter("joined_author"), attrgetter("author_pk")
_JOINED_TAGS, _PK = attrgetter("joined_tags"), attrgetter("pk")


def _tags(rows: Sequence[DbRow]) -> list[Tag]:
    return [Tag.from_row(row) for row in rows]


@strawberry.type
class PostConnection(Connection[Post]):
    pass


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


def post_relations(info: Info, *path: str) -> PostRelations:
    """What the document reads of the posts at `path` below this field that can come
    in the posts' own statement (schema/lookahead.py)."""
    fields = selected(info, *path)
    return PostRelations(author="author" in fields, tags="tags" in fields)


def post_list(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: PostFilter | None,
    order_by: PostOrder | None,
) -> tuple[Ordering, PageRequest, db_posts.PostFilter]:
    """The ordering, page and filter a list of posts' arguments ask for (checked)."""
    ordering = (order_by or PostOrder.NEWEST).ordering
    request = page_request(ordering, first=first, after=after, last=last, before=before)
    return ordering, request, filter.to_db() if filter is not None else db_posts.NO_FILTER
