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


LIST = """query($first: Int, $after: String, $last: Int, $before: String, $search: String,
      $posts: Int, $postsLast: Int) {
  users(first: $first, after: $after, last: $last, before: $before, search: $search) {
    edges { cursor node {
      username
      posts(first: $posts, last: $postsLast) {
        edges { cursor node { title published tags { name } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
# The same document with the page under a directive: not read ahead, so read as before
# (the users' page, then one statement for all their pages).
AS_BEFORE = LIST.replace(
    "posts(first: $posts, last: $postsLast)",
    "posts(first: $posts, last: $postsLast) @include(if: true)",
)


async def _authors(session: AsyncSession) -> dict[str, int]:
    ids = {}
    for name, posts, drafts in [("ann", 3, 1), ("bob", 0, 0), ("cat", 2, 0), ("dan", 1, 2)]:
        user = await make_user(session, username=name, full_name=f"{name} writer")
        ids[name] = user.id
        for n in range(posts + drafts):
            await make_post(
                session,
                user.id,
                title=f"{name}{n}",
                published=n < posts,
                created_at=minutes(n),
                tags=["x", f"t{n % 2}"] if n % 3 else [],
            )
    admin = await make_user(session, username="zed", is_admin=True)
    ids["zed"] = admin.id
    return ids


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 3, "posts": 2},
        {"first": 10, "posts": 1},
        {"last": 2, "posts": 2},
        {"first": 2, "postsLast": 2},
        {"first": 5, "posts": 5, "search": "a"},
        {"first": 0, "posts": 2},
    ],
)
async def test_users_and_their_pages_are_one_statement_and_answer_as_before(
    session: AsyncSession, counted: Counted, variables: dict[str, object]
) -> None:
    ids = await _authors(session)
    tokens = [None, await make_token(session, ids["ann"]), await make_token(session, ids["zed"])]

    for token in tokens:
        await counted(LIST, variables, token=token)  # a token's first lookup
        body, log = await counted(LIST, variables, token=token)
        before, before_log = await counted(AS_BEFORE, variables, token=token)

        assert body == before
        assert log.count == 1
        assert before_log.count == (2 if body["data"]["users"]["edges"] else 1)


async def test_the_next_and_previous_pages_of_users_are_one_statement(
    session: AsyncSession, counted: Counted
) -> None:
    await _authors(session)
    first, _ = await counted(LIST, {"first": 2, "posts": 1})
    after = first["data"]["users"]["pageInfo"]["endCursor"]

    body, log = await counted(LIST, {"first": 2, "after": after, "posts": 1})
    users = [edge["node"]["username"] for edge in body["data"]["users"]["edges"]]
    assert users == ["cat", "dan"]
    assert [
        e["node"]["title"] for e in body["data"]["users"]["edges"][0]["node"]["posts"]["edges"]
    ] == ["cat1"]
    assert log.count == 1

    before = body["data"]["users"]["pageInfo"]["startCursor"]
    back, log = await counted(LIST, {"last": 1, "before": before, "posts": 1})
    assert [edge["node"]["username"] for edge in back["data"]["users"]["edges"]] == ["bob"]
    assert back["data"]["users"]["pageInfo"]["hasNextPage"] is True
    assert log.count == 1


@pytest.mark.parametrize(
    ("selection", "statements"),
    [
        # A cursor below: every user's page would start at it.
        ("posts(first: 1, after: $after) { edges { node { title } } }", 2),
        # Two pages of each: each from its own loader.
        (
            "a: posts(first: 1) { edges { node { title } } } "
            "b: posts(first: 2) { edges { node { title } } }",
            3,
        ),
        # A filter object is not read ahead; nor a page under a directive.
        ("posts(first: 1, filter: {published: true}) { edges { node { title } } }", 2),
        ("... @skip(if: false) { posts(first: 1) { edges { node { title } } } }", 2),
    ],
)
async def test_what_cannot_be_read_ahead_below_a_list_is_read_as_before(
    session: AsyncSession, counted: Counted, selection: str, statements: int
) -> None:
    await _authors(session)
    # A cursor after every post (the oldest key there is): each page below is empty.
    oldest, _ = await counted("{ posts(last: 1) { pageInfo { startCursor } } }")
    after = oldest["data"]["posts"]["pageInfo"]["startCursor"]
    declared = "($after: String)" if "$after" in selection else ""
    query = (
        f"query{declared} {{ users(first: 3) {{ edges {{ node {{ username {selection} }} }} }} }}"
    )

    body, log = await counted(query, {"after": after} if declared else None)

    users = body["data"]["users"]["edges"]
    assert [edge["node"]["username"] for edge in users] == ["ann", "bob", "cat"]
    assert log.count == statements
