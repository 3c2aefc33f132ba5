"""Who sees what: drafts, emails, orders, and tokens that do not identify anyone."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import token_digest
from db.models import OrderStatus, auth_tokens
from tests.conftest import GraphQL, codes
from tests.factories import make_order, make_post, make_product, make_token, make_user, minutes


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def titles(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


@dataclass
class Blog:
    tokens: dict[str, str | None]
    draft_id: str
    published_id: str


@pytest.fixture
async def blog(session: AsyncSession, gql: GraphQL) -> Blog:
    """ann wrote one published post and one draft, both tagged `t`; ben and an admin read."""
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    admin = await make_user(session, username="root", is_admin=True)
    await make_post(session, ann.id, title="public", tags=["t"], created_at=minutes(1))
    await make_post(
        session, ann.id, title="secret", tags=["t"], published=False, created_at=minutes(2)
    )
    ann_token = await make_token(session, ann.id)
    # The author sees both, so the IDs can come from the API itself.
    listed = data(await gql("{ posts { edges { node { id title } } } }", token=ann_token))["posts"][
        "edges"
    ]
    ids = {edge["node"]["title"]: edge["node"]["id"] for edge in listed}
    return Blog(
        tokens={
            "anonymous": None,
            "ben": await make_token(session, ben.id),
            "ann": ann_token,
            "admin": await make_token(session, admin.id),
        },
        draft_id=ids["secret"],
        published_id=ids["public"],
    )


EVERYWHERE = """query($draft: ID!, $pub: ID!) {
  posts { totalCount edges { node { title } } }
  drafts: posts(filter: {published: false}) { totalCount edges { node { title } } }
  searched: posts(filter: {search: "secret"}) { totalCount edges { node { title } } }
  tagged: posts(filter: {tag: "t"}) { totalCount edges { node { title } } }
  byAuthor: posts(filter: {authorUsername: "ann"}) { totalCount edges { node { title } } }
  oldest: posts(orderBy: OLDEST, last: 5) { totalCount edges { node { title } } }
  user(username: "ann") {
    postCount
    draftCount: postCount(published: false)
    posts { totalCount edges { node { title } } }
    titled: posts(orderBy: TITLE) { totalCount edges { node { title } } }
  }
  tag(name: "t") {
    postCount
    posts { totalCount edges { node { title } } }
    titled: posts(orderBy: TITLE) { totalCount edges { node { title } } }
  }
  users { edges { node { username postCount posts { totalCount edges { node { title } } } } } }
  node(id: $draft) { ... on Post { title } }
  post(id: $draft) { title }
  nodes(ids: [$draft, $pub]) { ... on Post { title } }
  published: post(id: $pub) { title author { postCount } tags { postCount } }
}"""


@pytest.mark.parametrize(
    ("viewer", "sees_draft"),
    [("anonymous", False), ("ben", False), ("ann", True), ("admin", True)],
)
async def test_a_draft_is_seen_only_by_its_author_and_admins_everywhere(
    blog: Blog, gql: GraphQL, viewer: str, sees_draft: bool
) -> None:
    result = data(
        await gql(
            EVERYWHERE,
            {"draft": blog.draft_id, "pub": blog.published_id},
            token=blog.tokens[viewer],
        )
    )
    every = ["secret", "public"] if sees_draft else ["public"]
    drafts = ["secret"] if sees_draft else []
    n = len(every)

    def page(found: dict[str, Any]) -> tuple[list[str], int]:
        return titles(found), found["totalCount"]

    assert page(result["posts"]) == (every, n)
    assert page(result["drafts"]) == (drafts, len(drafts))
    assert page(result["searched"]) == (drafts, len(drafts))
    assert page(result["tagged"]) == (every, n)
    assert page(result["byAuthor"]) == (every, n)
    assert page(result["oldest"]) == (every[::-1], n)

    ann = result["user"]
    assert ann["postCount"] == n
    assert ann["draftCount"] == len(drafts)
    assert page(ann["posts"]) == (every, n)
    assert page(ann["titled"]) == (["public", "secret"] if sees_draft else ["public"], n)

    tag = result["tag"]
    assert tag["postCount"] == n
    assert page(tag["posts"]) == (every, n)
    assert page(tag["titled"]) == (["public", "secret"] if sees_draft else ["public"], n)

    by_user = {edge["node"]["username"]: edge["node"] for edge in result["users"]["edges"]}
    assert by_user["ann"]["postCount"] == n
    assert page(by_user["ann"]["posts"]) == (every, n)

    expected_draft = {"title": "secret"} if sees_draft else None
    assert result["node"] == expected_draft
    assert result["post"] == expected_draft
    assert result["nodes"] == [expected_draft, {"title": "public"}]
    assert result["published"] == {
        "title": "public",
        "author": {"postCount": n},
        "tags": [{"postCount": n}],
    }


async def test_another_authors_draft_stays_hidden_from_a_writer(
    session: AsyncSession, blog: Blog, gql: GraphQL
) -> None:
    """A writer sees their own drafts, never another author's."""
    user = await make_user(session, username="cat")
    await make_post(session, user.id, title="cat-draft", published=False, tags=["t"])
    cat = await make_token(session, user.id)
    result = data(
        await gql(
            """{ posts(orderBy: TITLE) { totalCount edges { node { title } } }
                 tag(name: "t") { postCount } }""",
            token=cat,
        )
    )
    assert titles(result["posts"]) == ["cat-draft", "public"]
    assert result["posts"]["totalCount"] == 2
    assert result["tag"]["postCount"] == 2


@pytest.mark.parametrize(
    ("viewer", "sees_email"),
    [("anonymous", False), ("ben", False), ("ann", True), ("admin", True)],
)
async def test_email_is_shown_to_the_user_and_admins_only(
    blog: Blog, gql: GraphQL, viewer: str, sees_email: bool
) -> None:
    result = data(
        await gql(
            """query($draft: ID!) { user(username: "ann") { email }
                 users { edges { node { username email } } }
                 post(id: $draft) { author { email } }
                 viewer { username email } }""",
            {"draft": blog.published_id},
            token=blog.tokens[viewer],
        )
    )
    expected = "ann@example.com" if sees_email else None
    assert result["user"]["email"] == expected
    assert result["post"]["author"]["email"] == expected
    emails = {edge["node"]["username"]: edge["node"]["email"] for edge in result["users"]["edges"]}
    assert emails["ann"] == expected
    if viewer == "admin":
        assert emails == {n: f"{n}@example.com" for n in ("ann", "ben", "root")}
    elif viewer == "anonymous":
        assert emails == {"ann": None, "ben": None, "root": None}
        assert result["viewer"] is None
    else:
        # Everyone's own address, nobody else's.
        assert emails == {n: f"{n}@example.com" if n == viewer else None for n in emails}
        assert result["viewer"] == {"username": viewer, "email": f"{viewer}@example.com"}


# --- Orders --------------------------------------------------------------------------


@dataclass
class Shop:
    ann: str
    ben: str
    admin: str
    ann_order: str
    ben_order: str


@pytest.fixture
async def shop(session: AsyncSession, gql: GraphQL) -> Shop:
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    admin = await make_user(session, username="root", is_admin=True)
    thing = await make_product(session, name="Thing")
    await make_order(session, ann.id, [(thing, 1)], created_at=minutes(1))
    await make_order(session, ben.id, [(thing, 2)], created_at=minutes(2))
    await make_order(session, ben.id, [(thing, 3)], status=OrderStatus.PAID, created_at=minutes(3))
    tokens = [await make_token(session, user.id) for user in (ann, ben, admin)]

    def only_order(body: dict[str, Any]) -> str:
        edges = data(body)["orders"]["edges"]
        return str(edges[-1]["node"]["id"])

    query = "{ orders { edges { node { id } } } }"
    return Shop(
        ann=tokens[0],
        ben=tokens[1],
        admin=tokens[2],
        ann_order=only_order(await gql(query, token=tokens[0])),
        ben_order=only_order(await gql(query, token=tokens[1])),
    )


async def test_someone_elses_order_by_id_is_null(shop: Shop, gql: GraphQL) -> None:
    query = """query($id: ID!) { node(id: $id) { ... on Order { itemCount } }
               nodes(ids: [$id]) { ... on Order { itemCount } } }"""
    own = data(await gql(query, {"id": shop.ann_order}, token=shop.ann))
    assert own == {"node": {"itemCount": 1}, "nodes": [{"itemCount": 1}]}
    assert data(await gql(query, {"id": shop.ann_order}, token=shop.ben)) == {
        "node": None,
        "nodes": [None],
    }
    assert data(await gql(query, {"id": shop.ann_order})) == {"node": None, "nodes": [None]}
    assert data(await gql(query, {"id": shop.ann_order}, token=shop.admin)) == own


async def test_user_orders_of_another_user_is_forbidden(shop: Shop, gql: GraphQL) -> None:
    body = await gql(
        '{ user(username: "ann") { orders { totalCount edges { node { itemCount } } } } }',
        token=shop.ben,
    )
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["user", "orders"]
    assert body["data"] == {"user": None}
    assert "itemCount" not in str(body)


async def test_user_orders_for_themself_and_for_admins(shop: Shop, gql: GraphQL) -> None:
    query = """query($u: String!) { user(username: $u) {
        orders { totalCount edges { node { itemCount } } } } }"""
    own = data(await gql(query, {"u": "ben"}, token=shop.ben))["user"]["orders"]
    assert own["totalCount"] == 2
    assert [edge["node"]["itemCount"] for edge in own["edges"]] == [3, 2]
    as_admin = data(await gql(query, {"u": "ben"}, token=shop.admin))["user"]["orders"]
    assert as_admin == own
    admin_sees_ann = data(await gql(query, {"u": "ann"}, token=shop.admin))["user"]["orders"]
    assert admin_sees_ann["totalCount"] == 1


async def test_anonymous_orders_is_unauthenticated(shop: Shop, gql: GraphQL) -> None:
    body = await gql("{ orders { totalCount edges { node { itemCount } } } }")
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_orders_lists_a_customers_own_and_everything_for_admins(
    shop: Shop, gql: GraphQL
) -> None:
    query = "{ orders { totalCount edges { node { itemCount customer { username } } } } }"
    for token, expected in [(shop.ann, [1]), (shop.ben, [3, 2]), (shop.admin, [3, 2, 1])]:
        found = data(await gql(query, token=token))["orders"]
        assert [edge["node"]["itemCount"] for edge in found["edges"]] == expected
        assert found["totalCount"] == len(expected)
    paid = data(await gql("{ orders(status: PAID) { totalCount } }", token=shop.ann))
    assert paid == {"orders": {"totalCount": 0}}


# --- Tokens --------------------------------------------------------------------------


PUBLIC_QUERY = "{ tags { totalCount } viewer { username } }"


async def test_a_valid_token_identifies_the_viewer(session: AsyncSession, gql: GraphQL) -> None:
    user = await make_user(session, username="ann")
    token = await make_token(session, user.id)
    assert data(await gql(PUBLIC_QUERY, token=token)) == {
        "tags": {"totalCount": 0},
        "viewer": {"username": "ann"},
    }


async def test_an_unknown_token_fails_the_whole_request(
    session: AsyncSession, gql: GraphQL
) -> None:
    user = await make_user(session, username="ann")
    token = await make_token(session, user.id)
    body = await gql(PUBLIC_QUERY, token=token + "x")
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_an_expired_token_fails_the_whole_request(
    session: AsyncSession, gql: GraphQL
) -> None:
    user = await make_user(session, username="ann")
    token = await make_token(session, user.id, ttl_hours=-1)
    body = await gql(PUBLIC_QUERY, token=token)
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_a_revoked_token_fails_the_whole_request(session: AsyncSession, gql: GraphQL) -> None:
    user = await make_user(session, username="ann")
    token = await make_token(session, user.id)
    assert data(await gql(PUBLIC_QUERY, token=token))["viewer"] == {"username": "ann"}
    await session.execute(
        update(auth_tokens)
        .where(auth_tokens.c.token_hash == token_digest(token))
        .values(revoked_at=func.now())
    )
    await session.commit()
    # Revoked outside the API: the process's token cache (db/sign_ins.py) hears of it
    # on the AUTH channel, which takes a moment, not a second.
    deadline = time.monotonic() + 1.0
    while codes(body := await gql(PUBLIC_QUERY, token=token)) != ["UNAUTHENTICATED"]:
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.01)
    assert body["data"] is None


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc", "bearertoken"],
)
async def test_a_malformed_authorization_header_fails_the_whole_request(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": PUBLIC_QUERY}, headers={"Authorization": header}
    )
    body = response.json()
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body.get("data") is None
