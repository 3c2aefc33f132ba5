"""A post's author and tags come in the post's own statement when the document reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import posts, users
from schema.executor.resolvers import FastInfo
from schema.ids import encode_id
from schema.lookahead import selected
from tests.conftest import Counted
from tests.factories import make_order, make_post, make_product, make_token, make_user

POST = "query($id: ID!) { post(id: $id) { title author { username } tags { name } } }"


async def test_a_post_with_its_author_and_tags_is_one_statement(
    session: AsyncSession, counted: Counted
) -> None:
    author = await make_user(session, username="ann")
    post = await make_post(session, author.id, title="Hi", tags=["b", "a"])

    body, log = await counted(POST, {"id": encode_id("Post", post.id)})

    assert body["data"]["post"] == {
        "title": "Hi",
        "author": {"username": "ann"},
        "tags": [{"name": "a"}, {"name": "b"}],
    }
    assert log.count == 1


async def test_an_untagged_post_has_no_tags(session: AsyncSession, counted: Counted) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id)

    body, log = await counted(POST, {"id": encode_id("Post", post.id)})

    assert body["data"]["post"]["tags"] == []
    assert log.count == 1


async def test_relations_read_through_fragments_and_node_come_along(
    session: AsyncSession, counted: Counted
) -> None:
    author = await make_user(session, username="ben")
    post = await make_post(session, author.id, tags=["x"])
    query = """query($id: ID!) {
      node(id: $id) { ... on Post { title ...Who } }
    }
    fragment Who on Post { author { username } tags { name } }"""

    body, log = await counted(query, {"id": encode_id("Post", post.id)})

    assert body["data"]["node"]["author"] == {"username": "ben"}
    assert body["data"]["node"]["tags"] == [{"name": "x"}]
    assert log.count == 1


async def test_nothing_is_joined_that_the_document_does_not_read(
    session: AsyncSession, counted: Counted
) -> None:
    author = await make_user(session)
    await make_post(session, author.id, tags=["x"])

    _, log = await counted("{ posts { edges { node { title } } } }")

    assert log.count == 1
    assert "author__" not in log.statements[0]
    assert "tag_ids" not in log.statements[0]
    # Nor the timestamps only publishedAt and updatedAt show: sent as NULL.
    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS published_at" in log.statements[0]
    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS updated_at" in log.statements[0]
    # Nor the body, which only Post.body shows.
    assert "CAST(NULL AS TEXT) AS body" in log.statements[0]


async def test_a_column_left_unread_in_one_place_is_read_where_it_is_asked_for(
    session: AsyncSession, counted: Counted
) -> None:
    author = await make_user(session, username="ann")
    post = await make_post(session, author.id, title="hello")
    await session.execute(
        update(posts)
        .where(posts.c.id == post.id)
        .values(updated_at=datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC))
    )
    await session.commit()
    query = """query($id: ID!) {
      bare: post(id: $id) { title }
      dated: post(id: $id) { title publishedAt updatedAt }
      node(id: $id) { ... on Post { updatedAt body } }
      user(username: "ann") { posts { edges { node { title } } } }
      posts { edges { node { publishedAt author { username } } } }
      again: posts { edges { node { author { createdAt } } } }
    }"""

    body, _ = await counted(query, {"id": encode_id("Post", post.id)})

    data = body["data"]
    assert data["bare"] == {"title": "hello"}
    assert data["dated"]["title"] == "hello"
    assert data["dated"]["publishedAt"] is not None
    assert data["dated"]["updatedAt"] == "2026-05-06T07:08:09+00:00"
    assert data["node"] == {"updatedAt": "2026-05-06T07:08:09+00:00", "body": "A body."}
    assert data["user"]["posts"]["edges"] == [{"node": {"title": "hello"}}]
    [edge] = data["posts"]["edges"]
    assert edge["node"]["publishedAt"] == data["dated"]["publishedAt"]
    assert edge["node"]["author"] == {"username": "ann"}
    [again] = data["again"]["edges"]
    assert again["node"]["author"]["createdAt"] == author.created_at.isoformat()


async def test_a_joined_authors_created_at_is_read_only_when_asked_for(
    session: AsyncSession, counted: Counted
) -> None:
    author = await make_user(session)
    await make_post(session, author.id)

    _, without = await counted("{ posts { edges { node { author { username } } } } }")
    _, asked = await counted("{ posts { edges { node { author { username createdAt } } } } }")

    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS author__created_at" in without.statements[0]
    assert "author.created_at AS author__created_at" in asked.statements[0]


async def _posts_newest_last_made(session: AsyncSession) -> list[str]:
    """Three posts of "ann" tagged "t", made newest first (so their ids run against
    their dates), and their titles newest first."""
    author = await make_user(session, username="ann")
    for n, title in enumerate(("new", "mid", "old")):
        at = datetime(2026, 1, 3 - n, tzinfo=UTC)
        await make_post(session, author.id, title=title, created_at=at, tags=["t"])
    return ["new", "mid", "old"]


# Every shape of statement a page of posts comes in: a root list, a lookup with its first
# page, a list with each parent's first page, and the pages of a level of parents.
PAGES_OF_POSTS = {
    "root": ("{ posts(first: 2) { %s } }", ("posts",)),
    "user": ('{ user(username: "ann") { posts(first: 2) { %s } } }', ("user", "posts")),
    "users": (
        "{ users { edges { node { posts(first: 2) { %s } } } } }",
        ("users", "edges", 0, "node", "posts"),
    ),
    "tags": (
        "{ tags { edges { node { posts(first: 2) { %s } } } } }",
        ("tags", "edges", 0, "node", "posts"),
    ),
}


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


@pytest.mark.parametrize("shape", PAGES_OF_POSTS)
async def test_a_page_ordered_by_an_unread_column_keeps_its_order(
    session: AsyncSession, counted: Counted, shape: str
) -> None:
    newest = await _posts_newest_last_made(session)
    document, path = PAGES_OF_POSTS[shape]

    body, log = await counted(document % "edges { node { title } } pageInfo { hasNextPage }")

    page = _at(body["data"], path)
    assert [edge["node"]["title"] for edge in page["edges"]] == newest[:2]
    assert page["pageInfo"] == {"hasNextPage": True}
    # No createdAt and no cursor: the dates the rows are ordered by are not sent.
    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS created_at" in log.statements[-1]


@pytest.mark.parametrize("shape", PAGES_OF_POSTS)
@pytest.mark.parametrize("cursor", ["edges { cursor }", "pageInfo { endCursor }"])
async def test_a_cursor_read_anywhere_in_a_page_is_made_from_its_dates(
    session: AsyncSession, counted: Counted, shape: str, cursor: str
) -> None:
    newest = await _posts_newest_last_made(session)
    document, path = PAGES_OF_POSTS[shape]

    body, _ = await counted(document % f"edges {{ node {{ title }} }} {cursor}")

    page = _at(body["data"], path)
    end = page["pageInfo"]["endCursor"] if "pageInfo" in page else page["edges"][-1]["cursor"]
    after, _ = await counted(
        """query($after: String) {
          user(username: "ann") { posts(first: 2, after: $after) { edges { node { title } } } }
        }""",
        {"after": end},
    )
    # A cursor made without the dates would not lead on to the third.
    assert [e["node"]["title"] for e in after["data"]["user"]["posts"]["edges"]] == newest[2:]


async def test_users_dates_are_sent_only_when_asked_for(
    session: AsyncSession, counted: Counted
) -> None:
    await _posts_newest_last_made(session)
    null = "NULL AS TIMESTAMP WITH TIME ZONE) AS created_at"

    users, users_log = await counted("{ users { edges { node { username } } } }")
    with_posts, with_posts_log = await counted(
        "{ users { edges { node { username posts(first: 1) { edges { node { title } } } } } } }"
    )
    dated, dated_log = await counted(
        "{ users { edges { node { createdAt posts(first: 1) { edges { node { title } } } } } } }"
    )

    assert users["data"]["users"]["edges"] == [{"node": {"username": "ann"}}]
    assert null in users_log.statements[-1]
    [user] = with_posts["data"]["users"]["edges"]
    assert user["node"]["posts"]["edges"] == [{"node": {"title": "new"}}]
    # One statement: the users' page and their posts', neither with its dates.
    assert (with_posts_log.count, with_posts_log.statements[-1].count(null)) == (1, 2)
    [user] = dated["data"]["users"]["edges"]
    assert user["node"]["createdAt"] is not None
    assert (dated_log.count, dated_log.statements[-1].count(null)) == (1, 1)


async def test_created_at_is_served_where_asked_beside_pages_that_do_not_ask(
    session: AsyncSession, counted: Counted
) -> None:
    await _posts_newest_last_made(session)
    query = """{
      users { edges { node { createdAt posts(first: 1) { edges { node { title } } } } } }
      user(username: "ann") { posts(first: 1) { edges { node { createdAt } } } }
      tags { edges { node { posts(first: 1) { edges { node { title createdAt } } } } } }
    }"""

    body, _ = await counted(query)

    data = body["data"]
    [user] = data["users"]["edges"]
    ann = select(users.c.created_at).where(users.c.username == "ann")
    assert user["node"]["createdAt"] == (await session.execute(ann)).scalar_one().isoformat()
    assert user["node"]["posts"]["edges"] == [{"node": {"title": "new"}}]
    [post] = data["user"]["posts"]["edges"]
    assert post["node"]["createdAt"] == "2026-01-03T00:00:00+00:00"
    [tag] = data["tags"]["edges"]
    assert tag["node"]["posts"]["edges"] == [
        {"node": {"title": "new", "createdAt": "2026-01-03T00:00:00+00:00"}}
    ]


async def test_a_joined_author_is_served_like_a_loaded_one(
    session: AsyncSession, counted: Counted
) -> None:
    # Email is the author's own or an admin's to see, whichever way the row came.
    ann = await make_user(session, username="ann", email="ann@example.com")
    ben = await make_user(session, username="ben")
    await make_post(session, ann.id)
    query = "{ posts { edges { node { author { username email } } } } }"

    as_ann, _ = await counted(query, token=await make_token(session, ann.id))
    as_ben, _ = await counted(query, token=await make_token(session, ben.id))

    assert as_ann["data"]["posts"]["edges"][0]["node"]["author"]["email"] == "ann@example.com"
    assert as_ben["data"]["posts"]["edges"][0]["node"]["author"]["email"] is None


async def test_nested_pages_bring_their_relations_backwards_too(
    session: AsyncSession, counted: Counted
) -> None:
    ann = await make_user(session, username="ann")
    for n in range(5):
        await make_post(session, ann.id, title=f"p{n}", tags=[f"t{n % 2}"])
    query = """{ user(username: "ann") { posts(last: 3) {
        edges { node { title author { username } tags { name } } } } } }"""

    body, log = await counted(query)

    edges = body["data"]["user"]["posts"]["edges"]
    # Newest first; the last three of that order are the three oldest.
    assert [e["node"]["title"] for e in edges] == ["p2", "p1", "p0"]
    assert [[t["name"] for t in e["node"]["tags"]] for e in edges] == [["t0"], ["t1"], ["t0"]]
    assert all(e["node"]["author"] == {"username": "ann"} for e in edges)
    # the user with the page of their posts, the posts' authors and tags (the page read
    # ahead with the user, tests/schema/test_page_ahead.py)
    assert log.count == 1


async def test_orders_with_customer_and_totals_are_one_statement(
    session: AsyncSession, counted: Counted
) -> None:
    admin = await make_user(session, is_admin=True)
    carol = await make_user(session, username="carol")
    cheap = await make_product(session, price="1.50")
    dear = await make_product(session, price="19.99")
    order = await make_order(session, carol.id, [(cheap, 3), (dear, 1)])
    token = await make_token(session, admin.id)

    body, log = await counted(
        "{ orders { edges { node { customer { username } itemCount total } } } }", token=token
    )
    by_id, by_id_log = await counted(
        "query($id: ID!) { node(id: $id) { ... on Order { customer { username } total } } }",
        {"id": encode_id("Order", order.id)},
        token=token,
    )

    expected = {"customer": {"username": "carol"}, "itemCount": 4, "total": "24.49"}
    assert body["data"]["orders"]["edges"] == [{"node": expected}]
    assert by_id["data"]["node"] == {"customer": {"username": "carol"}, "total": "24.49"}
    # the token, then the orders with their customers and totals; the second request's
    # token is already known to the process (db/sign_ins.py): only the order
    assert (log.count, by_id_log.count) == (2, 1)


async def test_orders_come_newest_first_without_their_dates_unless_asked(
    session: AsyncSession, counted: Counted
) -> None:
    admin = await make_user(session, is_admin=True)
    carol = await make_user(session, username="carol")
    product = await make_product(session)
    for day in (3, 2, 1):  # made newest first, so that their ids run against their dates
        await make_order(
            session, carol.id, [(product, day)], created_at=datetime(2026, 1, day, tzinfo=UTC)
        )
    token = await make_token(session, admin.id)
    bare = "{ orders(first: 2) { edges { node { itemCount customer { username } } } } }"
    asked = """{ orders(first: 2) {
      edges { cursor node { itemCount createdAt customer { createdAt } } }
    } }"""

    body, log = await counted(bare, token=token)
    dated, dated_log = await counted(asked, token=token)

    assert [e["node"]["itemCount"] for e in body["data"]["orders"]["edges"]] == [3, 2]
    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS created_at" in log.statements[-1]
    assert "NULL AS TIMESTAMP WITH TIME ZONE) AS customer__created_at" in log.statements[-1]
    edges = dated["data"]["orders"]["edges"]
    assert [e["node"]["createdAt"] for e in edges] == [
        "2026-01-03T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
    ]
    assert edges[0]["node"]["customer"]["createdAt"] == carol.created_at.isoformat()
    assert "NULL AS TIMESTAMP" not in dated_log.statements[-1]
    rest, _ = await counted(
        "query($after: String) { orders(after: $after) { edges { node { itemCount } } } }",
        {"after": edges[-1]["cursor"]},
        token=token,
    )
    assert [e["node"]["itemCount"] for e in rest["data"]["orders"]["edges"]] == [1]


def test_the_lean_executors_lookahead_is_read_once_per_document() -> None:
    document = parse(
        "query { a: post(id: 1) { title ...More } b: post(id: 2) { body } }"
        " fragment More on Post { author { username } tags { name } }"
    )
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    a, b = (cast(FieldNode, s) for s in operation.selection_set.selections)
    memo: dict[Any, Any] = {}

    def info(node: FieldNode, memo: dict[Any, Any] | None) -> FastInfo:
        return FastInfo(cast(Any, None), [node], fragments, {}, memo)

    first = selected(info(a, memo), "author")
    assert first == selected(info(a, None), "author") == {"username"}
    assert selected(info(a, memo), "author") is first  # from the memo
    assert selected(info(a, memo)) == {"title", "author", "tags"}
    assert selected(info(b, memo)) == {"body"}  # another field, its own entry
    assert len(memo) == 3
