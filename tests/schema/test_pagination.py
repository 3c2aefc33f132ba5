"""Keyset pages: per parent, stable under concurrent writes, and the same both ways."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import posts
from tests.conftest import GraphQL
from tests.factories import make_post, make_user, minutes

USER_POSTS = """
query($name: String!, $first: Int, $after: String) {
  user(username: $name) {
    posts(first: $first, after: $after) {
      edges { node { title } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

FEED_FORWARD = """
query($first: Int, $after: String) {
  posts(first: $first, after: $after, orderBy: NEWEST) {
    edges { cursor node { title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

FEED_BACKWARD = """
query($last: Int, $before: String) {
  posts(last: $last, before: $before, orderBy: NEWEST) {
    edges { node { title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def titles(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


async def test_each_parent_gets_its_own_newest_page(session: AsyncSession, gql: GraphQL) -> None:
    counts = {"ann": 7, "ben": 3, "cat": 0}
    for name, count in counts.items():
        user = await make_user(session, username=name)
        for n in range(count):
            await make_post(session, user.id, title=f"{name}-{n}", created_at=minutes(n))

    body = await gql(
        """{ users { edges { node { username posts(first: 2) {
            totalCount pageInfo { hasNextPage } edges { node { title } } } } } } }"""
    )

    pages = {e["node"]["username"]: e["node"]["posts"] for e in body["data"]["users"]["edges"]}
    assert titles(pages["ann"]) == ["ann-6", "ann-5"]
    assert titles(pages["ben"]) == ["ben-2", "ben-1"]
    assert titles(pages["cat"]) == []
    assert {name: page["totalCount"] for name, page in pages.items()} == counts
    assert [pages[n]["pageInfo"]["hasNextPage"] for n in ("ann", "ben", "cat")] == [
        True,
        True,
        False,
    ]


async def test_paging_each_parent_with_its_own_cursor_walks_every_row_once(
    session: AsyncSession, gql: GraphQL
) -> None:
    expected: dict[str, list[str]] = {}
    for name, count in {"ann": 9, "ben": 4}.items():
        user = await make_user(session, username=name)
        # Equal timestamps: the order must still be total (ties broken by id).
        for n in range(count):
            await make_post(session, user.id, title=f"{name}-{n}", created_at=minutes(n // 2))
        expected[name] = [f"{name}-{n}" for n in reversed(range(count))]

    for name, want in expected.items():
        seen: list[str] = []
        after = None
        while True:
            body = await gql(USER_POSTS, {"name": name, "first": 2, "after": after})
            page = body["data"]["user"]["posts"]
            seen += titles(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == want


async def test_a_page_after_writes_elsewhere_neither_repeats_nor_skips(
    session: AsyncSession, gql: GraphQL
) -> None:
    author = await make_user(session)
    made = [
        await make_post(session, author.id, title=f"p{n}", created_at=minutes(n)) for n in range(10)
    ]

    first = (await gql(FEED_FORWARD, {"first": 4}))["data"]["posts"]
    assert titles(first) == ["p9", "p8", "p7", "p6"]

    # Newer rows arrive and a row already seen is deleted.
    await make_post(session, author.id, title="newer", created_at=minutes(100))
    await session.execute(delete(posts).where(posts.c.id == made[8].id))
    await session.commit()

    second = await gql(FEED_FORWARD, {"first": 4, "after": first["pageInfo"]["endCursor"]})
    page = second["data"]["posts"]
    assert titles(page) == ["p5", "p4", "p3", "p2"]
    assert page["pageInfo"]["hasPreviousPage"] is True


async def test_last_before_walks_backwards_exactly_as_first_after_walks_forwards(
    session: AsyncSession, gql: GraphQL
) -> None:
    author = await make_user(session)
    for n in range(11):
        await make_post(session, author.id, title=f"p{n:02d}", created_at=minutes(n // 3))

    forward: list[str] = []
    after = None
    while True:
        page = (await gql(FEED_FORWARD, {"first": 3, "after": after}))["data"]["posts"]
        forward += titles(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    backward: list[str] = []
    before = None
    while True:
        page = (await gql(FEED_BACKWARD, {"last": 3, "before": before}))["data"]["posts"]
        backward = titles(page) + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]

    assert len(forward) == 11
    assert backward == forward


async def test_edge_cursors_resume_after_that_edge(session: AsyncSession, gql: GraphQL) -> None:
    author = await make_user(session)
    for n in range(6):
        await make_post(session, author.id, title=f"p{n}", created_at=minutes(n))

    page = (await gql(FEED_FORWARD, {"first": 6}))["data"]["posts"]
    third_cursor = page["edges"][2]["cursor"]
    rest = (await gql(FEED_FORWARD, {"first": 6, "after": third_cursor}))["data"]["posts"]

    assert titles(rest) == ["p2", "p1", "p0"]
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_default_page_is_the_first_ten(session: AsyncSession, gql: GraphQL) -> None:
    author = await make_user(session)
    for n in range(12):
        await make_post(session, author.id, created_at=minutes(n))

    page = (await gql("{ posts { totalCount edges { node { id } } } }"))["data"]["posts"]

    assert len(page["edges"]) == 10
    assert page["totalCount"] == 12
