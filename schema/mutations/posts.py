"""createPost, updatePost, deletePost."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from db import writes_posts
from db.access import Access
from db.rows import DbRow
from db.tags import MAX_TAG_NAME, MAX_TAGS_PER_POST, normalise_name
from schema.context import Info
from schema.events import PostPublished, publish
from schema.ids import decode_id_of, encode_id
from schema.mutations.payloads import (
    DeletePostPayload,
    Path,
    PostPayload,
    Problems,
    Rejected,
    UserErrorCode,
    require_viewer,
)
from schema.types.post import Post

TITLE_MAX = 200


@strawberry.input
class CreatePostInput:
    title: str
    body: str
    tags: list[str] = strawberry.field(default_factory=list)
    published: bool = False


@strawberry.input
class UpdatePostInput:
    id: strawberry.ID
    title: str | None = None
    body: str | None = None
    tags: list[str] | None = strawberry.field(
        default=None, description="Replaces the post's tags when given."
    )
    published: bool | None = None


def _title(problems: Problems, title: str) -> str:
    title = title.strip()
    if problems.text(title, ["input", "title"]) and not 1 <= len(title) <= TITLE_MAX:
        problems.invalid(f"title must be 1 to {TITLE_MAX} characters", ["input", "title"])
    return title


def _body(problems: Problems, body: str) -> str:
    if problems.text(body, ["input", "body"]) and not body.strip():
        problems.invalid("body must not be empty", ["input", "body"])
    return body


def _tags(problems: Problems, names: Sequence[str]) -> list[str]:
    """Normalised as tags are stored, without duplicates, in the order given."""
    normalised: list[str] = []
    for index, name in enumerate(names):
        tag = normalise_name(name)
        field: Path = ["input", "tags", index]
        if not problems.text(tag, field):
            continue
        if not 1 <= len(tag) <= MAX_TAG_NAME:
            problems.invalid(f"a tag name must be 1 to {MAX_TAG_NAME} characters", field)
        elif tag not in normalised:
            normalised.append(tag)
    if len(normalised) > MAX_TAGS_PER_POST:
        problems.invalid(f"a post has at most {MAX_TAGS_PER_POST} tags", ["input", "tags"])
    return normalised


async def _locked_own_post(
    session: AsyncSession, access: Access, post_id: int | None, field: Path
) -> DbRow:
    """The post, locked, when the viewer may change it; Rejected otherwise.

    A post the viewer may not see is missing as far as they know (API.md, "Visibility").
    `access` is the request's own (`loaders.access`), so a post a query would hide is
    missing here too.
    """
    post = None if post_id is None else await writes_posts.lock_post(session, post_id)
    if post is None or not access.may_see_post(post.author_id, post.published):
        raise Rejected.one(UserErrorCode.NOT_FOUND, "No such post", field)
    if post.author_id != access.viewer_id and not access.is_admin:
        raise Rejected.one(
            UserErrorCode.FORBIDDEN, "Only the author or an admin may change this post", field
        )
    return post


@strawberry.type
class PostMutation:
    @strawberry.mutation
    async def create_post(self, info: Info, input: CreatePostInput) -> PostPayload:
        viewer = require_viewer(info)
        problems = Problems()
        title = _title(problems, input.title)
        body = _body(problems, input.body)
        tags = _tags(problems, input.tags)
        if problems.errors:
            return PostPayload(user_errors=problems.errors)

        async with info.context.services.sessionmaker.begin() as session:
            row = await writes_posts.insert_post(
                session, author_id=viewer.user_id, title=title, body=body, published=input.published
            )
            tag_rows = await writes_posts.ensure_tags(session, tags)
            tag_ids = [tag.id for tag in tag_rows]
            await writes_posts.set_post_tags(session, row.id, tag_ids)
            if row.published:
                # In the transaction: sent at commit, and never if it rolls back.
                event = PostPublished(post_id=row.id, tag_ids=tuple(sorted(tag_ids)))
                await publish(session, event)
        info.context.reset_loaders()
        return PostPayload(post=Post.from_row(row))

    @strawberry.mutation
    async def update_post(self, info: Info, input: UpdatePostInput) -> PostPayload:
        require_viewer(info)
        access = info.context.loaders.access
        problems = Problems()
        title = None if input.title is None else _title(problems, input.title)
        body = None if input.body is None else _body(problems, input.body)
        tags = None if input.tags is None else _tags(problems, input.tags)
        if problems.errors:
            return PostPayload(user_errors=problems.errors)

        post_id = decode_id_of(input.id, "Post")
        try:
            async with info.context.services.sessionmaker.begin() as session:
                before = await _locked_own_post(session, access, post_id, ["input", "id"])
                row = await writes_posts.update_post(
                    session, before.id, title=title, body=body, published=input.published
                )
                if tags is not None:
                    tag_rows = await writes_posts.ensure_tags(session, tags)
                    await writes_posts.set_post_tags(session, row.id, [t.id for t in tag_rows])
                if row.published and not before.published:
                    tag_ids = await writes_posts.tag_ids_of_post(session, row.id)
                    await publish(session, PostPublished(post_id=row.id, tag_ids=tuple(tag_ids)))
        except Rejected as rejected:
            return PostPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return PostPayload(post=Post.from_row(row))

    @strawberry.mutation
    async def delete_post(self, info: Info, id: strawberry.ID) -> DeletePostPayload:
        require_viewer(info)
        access = info.context.loaders.access
        post_id = decode_id_of(id, "Post")
        try:
            async with info.context.services.sessionmaker.begin() as session:
                post = await _locked_own_post(session, access, post_id, ["id"])
                await writes_posts.delete_post(session, post.id)
        except Rejected as rejected:
            return DeletePostPayload(user_errors=rejected.errors)
        info.context.reset_loaders()
        return DeletePostPayload(deleted_id=strawberry.ID(encode_id("Post", post.id)))
