"""`user(username:)` reads the user's first page of posts in its own statement, when the
document asks for one page of them (schema/relationships.py, `page_ahead`): the user page
is one statement, not two, and answers exactly what the two did."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from db.statement_counter import counting
from tests.conftest import Counted, GraphQL
from tests.factories import make_post, make_token, make_user, minutes

PAGE = """query($name: String!, $first: Int) {
  user(username: $name) {
    username
    posts(first: $first) {
      edges { cursor node { title published tags { name } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"""


def _titles(user: dict[str, object]) -> list[str]:
    return [edge["node"]["title"] for edge in user["posts"]["edges"]]  # type: ignore[index]


async def test_a_user_and_their_page_are_one_statement(
    session: AsyncSession, counted: Counted
) -> None:
    ann = await make_user(session, username="Ann")
    for n in range(4):
        await make_post(session, ann.id, title=f"p{n}", created_at=minutes(n), tags=["x"])
    await make_post(session, ann.id, title="draft", published=False, created_at=minutes(9))

    body, log = await counted(PAGE, {"name": "ann", "first": 3})

    user = body["data"]["user"]
    assert user["username"] == "Ann"
    assert _titles(user) == ["p3", "p2", "p1"]
    assert user["posts"]["pageInfo"]["hasNextPage"] is True
    assert user["posts"]["edges"][0]["node"]["tags"] == [{"name": "x"}]
    assert log.count == 1
    # The page is correlated to the one lookup, not a second lookup of its own inside
    # it (the plan that took six times the database time).
    [statement] = log.statements
    assert statement.count("lower(users.username)") == 1, statement

    # The next page, from the cursor, the same way; and the author sees the draft.
    after = user["posts"]["pageInfo"]["endCursor"]
    rest, log = await counted(
        PAGE.replace("$first: Int", "$first: Int, $after: String").replace(
            "first: $first)", "first: $first, after: $after)"
        ),
        {"name": "ann", "first": 3, "after": after},
    )
    assert _titles(rest["data"]["user"]) == ["p0"]
    assert log.count == 1
    token = await make_token(session, ann.id)
    await counted(PAGE, {"name": "ann", "first": 1}, token=token)  # the token's lookup
    own, log = await counted(PAGE, {"name": "ann", "first": 1}, token=token)
    assert _titles(own["data"]["user"]) == ["draft"]
    assert log.count == 1


async def test_a_user_without_posts_and_no_user(session: AsyncSession, counted: Counted) -> None:
    await make_user(session, username="quiet")
    other = await make_user(session, username="other")
    await make_post(session, other.id, title="not theirs")

    body, log = await counted(PAGE, {"name": "quiet", "first": 5})
    assert body["data"]["user"]["posts"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "endCursor": None},
    }
    assert log.count == 1

    body, log = await counted(PAGE, {"name": "nobody", "first": 5})
    assert body["data"] == {"user": None}
    assert log.count == 1


@pytest.mark.parametrize(
    ("selection", "statements"),
    [
        # Two pages: each from its own loader, after the user's lookup.
        (
            "a: posts(first: 1) { edges { node { title } } } "
            "b: posts(first: 2) { edges { node { title } } }",
            3,
        ),
        # A page under a directive, or filtered: read as before.
        ("posts(first: 2) @include(if: true) { edges { node { title } } }", 2),
        ("... @include(if: true) { posts(first: 2) { edges { node { title } } } }", 2),
        ("posts(first: 2, filter: {published: true}) { edges { node { title } } }", 2),
    ],
)
async def test_what_cannot_be_read_ahead_is_read_as_before(
    session: AsyncSession, counted: Counted, selection: str, statements: int
) -> None:
    ann = await make_user(session, username="ann")
    for n in range(3):
        await make_post(session, ann.id, title=f"p{n}", created_at=minutes(n))

    body, log = await counted(f'{{ user(username: "ann") {{ {selection} }} }}')

    for page in body["data"]["user"].values():
        assert page["edges"][0]["node"]["title"] == "p2"
    assert log.count == statements


async def test_a_bad_page_argument_is_reported_on_the_page(
    session: AsyncSession, gql: GraphQL
) -> None:
    await make_user(session, username="ann")
    with counting() as log:
        body = await gql('{ user(username: "ann") { username posts(first: 500) { totalCount } } }')
    # `posts` may not be null, so the user is.
    assert body["data"] == {"user": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["user", "posts"]
    assert log.count == 1


COUNTED = """query($name: String!, $published: Boolean) {
  user(username: $name) {
    postCount(published: $published)
    posts(first: 2) { edges { node { title } } }
  }
}"""


async def test_the_count_beside_the_page_rides_too(session: AsyncSession, counted: Counted) -> None:
    ann = await make_user(session, username="ann")
    admin = await make_user(session, username="root", is_admin=True)
    for n in range(5):
        await make_post(session, ann.id, title=f"p{n}", published=n % 2 == 0)
    ann_token, admin_token = await make_token(session, ann.id), await make_token(session, admin.id)

    # Published 3, drafts 2: anonymous sees 3, ann and an admin 5; each asked apart.
    for token, published, expected in [
        (None, None, 3),
        (None, False, 0),
        (ann_token, None, 5),
        (ann_token, False, 2),
        (admin_token, True, 3),
        (admin_token, None, 5),
    ]:
        await counted(COUNTED, {"name": "ann"}, token=token)  # a token's first lookup
        body, log = await counted(COUNTED, {"name": "ann", "published": published}, token=token)
        assert body["data"]["user"]["postCount"] == expected, (token, published)
        assert log.count == 1
