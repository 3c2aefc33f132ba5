"""createPost, updatePost, deletePost."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import posts, tags
from schema.events import Event, PostPublished
from schema.ids import encode_id
from tests.conftest import GraphQL
from tests.factories import make_post, make_token, make_user, snapshot

POST_FIELDS = """
  post {
    id title body published publishedAt updatedAt
    tags { name postCount }
    author { username postCount }
  }
  userErrors { field code message }
"""
CREATE = (
    f"mutation Create($input: CreatePostInput!) {{ createPost(input: $input) {{ {POST_FIELDS} }} }}"
)
UPDATE = (
    f"mutation Update($input: UpdatePostInput!) {{ updatePost(input: $input) {{ {POST_FIELDS} }} }}"
)
DELETE = """
mutation Delete($id: ID!) { deletePost(id: $id) { deletedId userErrors { field code message } } }
"""


async def _signed_in(session: AsyncSession, **kwargs: Any) -> tuple[Any, str]:
    user = await make_user(session, **kwargs)
    return user, await make_token(session, user.id)


def _errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_create_post_shows_its_tags_and_its_author_afterwards(
    gql: GraphQL, session: AsyncSession
) -> None:
    author, token = await _signed_in(session, username="writer")
    await make_post(session, author.id, tags=["python"])

    body = await gql(
        CREATE,
        {"input": {"title": "  Hello  ", "body": "World", "tags": ["Python", " SQL ", "python"]}},
        token=token,
    )

    payload = body["data"]["createPost"]
    assert payload["userErrors"] == []
    post = payload["post"]
    assert post["title"] == "Hello"
    assert post["published"] is False
    assert post["publishedAt"] is None
    assert post["tags"] == [{"name": "python", "postCount": 2}, {"name": "sql", "postCount": 1}]
    assert post["author"] == {"username": "writer", "postCount": 2}
    names = (await session.execute(select(tags.c.name).order_by(tags.c.name))).scalars().all()
    assert names == ["python", "sql"]


async def test_create_post_published_sets_published_at_and_publishes_an_event(
    gql: GraphQL, session: AsyncSession, published: asyncio.Queue[Event | None]
) -> None:
    _, token = await _signed_in(session)

    body = await gql(
        CREATE,
        {"input": {"title": "T", "body": "B", "tags": ["b", "a"], "published": True}},
        token=token,
    )
    event = await asyncio.wait_for(published.get(), 1)

    post = body["data"]["createPost"]["post"]
    assert post["published"] is True
    assert post["publishedAt"] is not None
    tag_ids = await _tag_ids(session, "a", "b")
    assert event == PostPublished(post_id=_pk(post["id"]), tag_ids=tag_ids)


async def _tag_ids(session: AsyncSession, *names: str) -> tuple[int, ...]:
    found = await session.execute(select(tags.c.id).where(tags.c.name.in_(names)))
    return tuple(sorted(found.scalars()))


def _pk(global_id: str) -> int:
    from schema.ids import decode_id_of

    pk = decode_id_of(global_id, "Post")
    assert pk is not None
    return pk


async def test_create_post_reports_invalid_fields_and_changes_nothing(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    before = await snapshot(session)

    body = await gql(
        CREATE,
        {"input": {"title": " ", "body": "", "tags": ["ok", "x" * 51, "  "]}},
        token=token,
    )

    payload = body["data"]["createPost"]
    assert payload["post"] is None
    assert _errors(payload) == [
        (["input", "title"], "INVALID"),
        (["input", "body"], "INVALID"),
        (["input", "tags", "1"], "INVALID"),
        (["input", "tags", "2"], "INVALID"),
    ]
    too_many = await gql(
        CREATE,
        {"input": {"title": "t" * 201, "body": "b", "tags": [f"t{n}" for n in range(11)]}},
        token=token,
    )
    assert _errors(too_many["data"]["createPost"]) == [
        (["input", "title"], "INVALID"),
        (["input", "tags"], "INVALID"),
    ]
    assert await snapshot(session) == before


async def test_create_post_needs_a_signed_in_viewer(gql: GraphQL, session: AsyncSession) -> None:
    before = await snapshot(session)

    body = await gql(CREATE, {"input": {"title": "T", "body": "B"}})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(session) == before


async def test_update_post_replaces_tags_and_sets_published_at_once(
    gql: GraphQL, session: AsyncSession, published: asyncio.Queue[Event | None]
) -> None:
    author, token = await _signed_in(session)
    draft = await make_post(session, author.id, published=False, tags=["old", "kept"])
    post_id = encode_id("Post", draft.id)

    body = await gql(
        UPDATE,
        {"input": {"id": post_id, "tags": ["Kept", "new"], "published": True}},
        token=token,
    )
    event = await asyncio.wait_for(published.get(), 1)

    post = body["data"]["updatePost"]["post"]
    assert [t["name"] for t in post["tags"]] == ["kept", "new"]
    assert post["published"] is True
    assert post["updatedAt"] is not None
    first_published = post["publishedAt"]
    assert first_published is not None
    assert event == PostPublished(post_id=draft.id, tag_ids=await _tag_ids(session, "kept", "new"))

    await gql(UPDATE, {"input": {"id": post_id, "published": False}}, token=token)
    again = await gql(UPDATE, {"input": {"id": post_id, "published": True}}, token=token)
    assert again["data"]["updatePost"]["post"]["publishedAt"] == first_published

    untouched = await gql(UPDATE, {"input": {"id": post_id, "title": "New title"}}, token=token)
    post = untouched["data"]["updatePost"]["post"]
    assert post["title"] == "New title"
    assert [t["name"] for t in post["tags"]] == ["kept", "new"]


async def test_update_post_of_another_author(gql: GraphQL, session: AsyncSession) -> None:
    author = await make_user(session)
    published = await make_post(session, author.id, published=True)
    draft = await make_post(session, author.id, published=False)
    _, token = await _signed_in(session)
    before = await snapshot(session)

    visible = await gql(
        UPDATE, {"input": {"id": encode_id("Post", published.id), "title": "Mine"}}, token=token
    )
    invisible = await gql(
        UPDATE, {"input": {"id": encode_id("Post", draft.id), "title": "Mine"}}, token=token
    )
    missing = await gql(UPDATE, {"input": {"id": "nonsense", "title": "Mine"}}, token=token)

    assert _errors(visible["data"]["updatePost"]) == [(["input", "id"], "FORBIDDEN")]
    assert _errors(invisible["data"]["updatePost"]) == [(["input", "id"], "NOT_FOUND")]
    assert _errors(missing["data"]["updatePost"]) == [(["input", "id"], "NOT_FOUND")]
    assert visible["data"]["updatePost"]["post"] is None
    assert await snapshot(session) == before
    title = select(posts.c.title).where(posts.c.id == published.id)
    assert (await session.execute(title)).scalar_one() == published.title


async def test_an_admin_may_update_and_delete_anyones_post(
    gql: GraphQL, session: AsyncSession
) -> None:
    author = await make_user(session)
    draft = await make_post(session, author.id, published=False)
    _, token = await _signed_in(session, is_admin=True)
    post_id = encode_id("Post", draft.id)

    updated = await gql(UPDATE, {"input": {"id": post_id, "body": "Edited"}}, token=token)
    deleted = await gql(DELETE, {"id": post_id}, token=token)

    assert updated["data"]["updatePost"]["post"]["body"] == "Edited"
    assert deleted["data"]["deletePost"] == {"deletedId": post_id, "userErrors": []}


async def test_update_post_validates_what_it_is_given(gql: GraphQL, session: AsyncSession) -> None:
    author, token = await _signed_in(session)
    post = await make_post(session, author.id)
    before = await snapshot(session)

    body = await gql(
        UPDATE,
        {"input": {"id": encode_id("Post", post.id), "title": "", "tags": ["t"] * 3 + ["x" * 60]}},
        token=token,
    )

    assert _errors(body["data"]["updatePost"]) == [
        (["input", "title"], "INVALID"),
        (["input", "tags", "3"], "INVALID"),
    ]
    assert await snapshot(session) == before


async def test_delete_post(gql: GraphQL, session: AsyncSession) -> None:
    author, token = await _signed_in(session)
    post = await make_post(session, author.id, tags=["gone"])
    other = await make_post(session, (await make_user(session)).id)
    before = await snapshot(session)

    forbidden = await gql(DELETE, {"id": encode_id("Post", other.id)}, token=token)
    assert _errors(forbidden["data"]["deletePost"]) == [(["id"], "FORBIDDEN")]
    assert forbidden["data"]["deletePost"]["deletedId"] is None
    assert await snapshot(session) == before

    body = await gql(DELETE, {"id": encode_id("Post", post.id)}, token=token)
    assert body["data"]["deletePost"] == {"deletedId": encode_id("Post", post.id), "userErrors": []}
    twice = await gql(DELETE, {"id": encode_id("Post", post.id)}, token=token)
    assert _errors(twice["data"]["deletePost"]) == [(["id"], "NOT_FOUND")]
    assert (await session.execute(select(posts.c.id))).scalars().all() == [other.id]
    await session.commit()


async def test_concurrent_posts_with_the_same_new_tags_share_them(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)

    bodies = await asyncio.gather(
        *(
            gql(
                CREATE,
                {
                    "input": {
                        "title": f"P{n}",
                        "body": "B",
                        "tags": ["x", "y", "z"][:: 1 - 2 * (n % 2)],
                    }
                },
                token=token,
            )
            for n in range(10)
        )
    )

    assert all(body["data"]["createPost"]["userErrors"] == [] for body in bodies)
    rows = (await session.execute(select(tags.c.name).order_by(tags.c.name))).scalars().all()
    assert rows == ["x", "y", "z"]
    await session.commit()


async def test_update_and_delete_need_a_signed_in_viewer(
    gql: GraphQL, session: AsyncSession
) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id)
    post_id = encode_id("Post", post.id)
    before = await snapshot(session)

    updated = await gql(UPDATE, {"input": {"id": post_id, "title": "Mine"}})
    deleted = await gql(DELETE, {"id": post_id})

    for body in (updated, deleted):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(session) == before


async def test_nul_characters_are_invalid_input_not_internal_errors(
    gql: GraphQL, session: AsyncSession
) -> None:
    _, token = await _signed_in(session)
    before = await snapshot(session)

    body = await gql(
        CREATE, {"input": {"title": "a\u0000", "body": "\u0000", "tags": ["x\u0000"]}}, token=token
    )

    assert _errors(body["data"]["createPost"]) == [
        (["input", "title"], "INVALID"),
        (["input", "body"], "INVALID"),
        (["input", "tags", "0"], "INVALID"),
    ]
    assert await snapshot(session) == before
