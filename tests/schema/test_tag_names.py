"""Every way a client names a tag reaches the same tag, however the name is typed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import GraphQL
from tests.factories import make_token, make_user

CREATE = """mutation($input: CreatePostInput!) {
  createPost(input: $input) { post { tags { name } } userErrors { code } }
}"""
READ = """query($name: String!) {
  tag(name: $name) { name postCount }
  posts(filter: {tag: $name}) { edges { node { title } } }
}"""


async def test_a_tag_written_one_way_is_found_every_other_way(
    gql: GraphQL, session: AsyncSession
) -> None:
    author = await make_user(session)
    token = await make_token(session, author.id)
    post = {"title": "T", "body": "b", "tags": ["  Rust ", "RUST"], "published": True}

    created = await gql(CREATE, {"input": post}, token=token)
    read_back: list[dict[str, Any]] = [
        (await gql(READ, {"name": name}))["data"] for name in ("rust", "Rust", "  RUST\t")
    ]

    assert created["data"]["createPost"] == {"post": {"tags": [{"name": "rust"}]}, "userErrors": []}
    expected = {
        "tag": {"name": "rust", "postCount": 1},
        "posts": {"edges": [{"node": {"title": "T"}}]},
    }
    assert read_back == [expected] * 3
