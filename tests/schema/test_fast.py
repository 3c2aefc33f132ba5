"""The lean executor answers exactly what Strawberry answers, or hands the document over."""

from __future__ import annotations

import gc
import warnings
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import Viewer
from db.models import OrderStatus
from db.statement_counter import counting
from schema import build_schema
from schema.context import Context, Services
from schema.executor.fast_path import FastPath
from schema.ids import encode_id
from tests.factories import make_order, make_post, make_product, make_user, minutes

SCHEMA = build_schema()

CORPUS = [
    "{ posts(first: 50) { totalCount edges { cursor node { id title published publishedAt "
    "createdAt updatedAt author { username email } tags { name postCount } } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    "{ users(first: 20) { edges { node { username fullName postCount(published: true) "
    "posts(first: 2, orderBy: TITLE) { totalCount edges { node { title tags { name } } } } } } } }",
    "{ tags { totalCount edges { node { __typename id name postCount "
    "posts(first: 3, orderBy: OLDEST) { edges { node { title author { username } } } } } } } }",
    "{ orders(first: 20) { totalCount edges { node { id status createdAt customer { username } "
    "items { quantity unitPrice subtotal product { sku name price stock unitsSold } } "
    "itemCount total } } } }",
    "{ products(inStock: true) { edges { node { name price unitsSold } } } }",
    "{ products { edges { node { sku recentOrders(first: 1) { status total customer { username } "
    "items { quantity } } } } } }",
    "{ viewer { username email orders(status: PAID) { totalCount edges { node { total } } } } }",
    "query($name: String!, $f: PostFilter) { user(username: $name) { username "
    "posts(last: 2, filter: $f) { edges { node { title } } pageInfo { hasPreviousPage } } } }",
    # A user's page read with the user (Query.user's page ahead), forward and back.
    "query($name: String!) { user(username: $name) { username postCount posts(first: 3) { "
    "totalCount edges { cursor node { title published tags { name } author { username } } } "
    "pageInfo { hasNextPage hasPreviousPage endCursor } } } }",
    "query($name: String!) { user(username: $name) { posts(last: 2) { edges { node { title } } "
    "pageInfo { hasPreviousPage startCursor } } } }",
    "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id "
    "... on Post { title author { username } } ...U } } fragment U on User { username }",
    "query($skip: Boolean!) { a: posts(first: 1) { edges { node { title } } } "
    "b: posts(first: 3, orderBy: TITLE) { edges { node { title @skip(if: $skip) id } } } }",
]


async def dataset(session: AsyncSession) -> dict[str, Any]:
    admin = await make_user(session, username="root", is_admin=True)
    ann = await make_user(session, username="ann", full_name="Ann A")
    ben = await make_user(session, username="ben")
    posts = []
    for n in range(12):
        author = (ann, ben, admin)[n % 3]
        posts.append(
            await make_post(
                session,
                author.id,
                title=f"title {n % 5}",
                published=n % 4 != 0,
                created_at=minutes(n // 2),
                # Some posts untagged: an empty list is answered too.
                tags=[f"t{n % 3}", f"u{n % 2}"][: 2 if n % 5 else 0],
            )
        )
    widget = await make_product(session, name="Widget", price="0.10", stock=5)
    gadget = await make_product(session, name="Gadget", price="19.99", stock=0)
    await make_order(session, ann.id, [(widget, 3), (gadget, 1)], status=OrderStatus.PAID)
    await make_order(session, ben.id, [(widget, 1)], status=OrderStatus.CANCELLED)
    ids = [encode_id("Post", p.id) for p in posts[:4]] + [encode_id("User", ben.id)]
    post = next(p for p in reversed(posts) if p.published)
    draft = next(p for p in posts if not p.published and p.author_id == ann.id)
    return {"viewers": [None, ann, admin], "ids": ids, "post": post, "draft": draft}


@pytest.mark.parametrize("query", CORPUS)
async def test_the_lean_executor_matches_strawberry(
    session: AsyncSession, services: Services, query: str
) -> None:
    data = await dataset(session)
    variables = {"name": "ann", "f": {"published": True}, "ids": data["ids"], "skip": True}
    await same_as_strawberry(services, query, variables, data["viewers"])


async def same_as_strawberry(
    services: Services, query: str, variables: dict[str, Any], viewers: list[Any]
) -> None:
    """The lean executor's answer to `query`, for each viewer, is Strawberry's: the same
    data, keys in the same order, the same errors in place, the same statements."""
    fast = FastPath(SCHEMA)
    for user in viewers:
        viewer = Viewer(user.id, user.is_admin, 0) if user is not None else None
        with counting() as strawberry_log:
            expected = await SCHEMA.execute(
                query, variable_values=variables, context_value=Context(services, viewer, "t")
            )
        with counting() as lean_log:
            answer = await fast.execute(query, variables, None, Context(services, viewer, "t"))
        assert answer is not None, "the lean executor handed a plain query over"
        assert not answer.refused
        assert answer.payload.get("data") == expected.data
        assert list(_keys(answer.payload.get("data"))) == list(_keys(expected.data))
        # e.g. orders for an anonymous viewer: both report the same errors, in place.
        assert _errors(answer.payload) == _errors({"errors": expected.errors or []})
        assert lean_log.statements == strawberry_log.statements
    assert fast.handed_over == 0


def _errors(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
    found = []
    for error in payload.get("errors") or ():
        formatted = error if isinstance(error, dict) else error.formatted
        found.append(
            (
                tuple(formatted.get("path") or ()),
                formatted["extensions"]["code"],
                formatted["message"],
            )
        )
    return sorted(found)


def _keys(value: Any) -> Any:
    """Every key path in order: JSON objects must keep the order the query asked for."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


@pytest.mark.parametrize(
    ("query", "code", "refused"),
    [
        ("{ posts(first: 101) { totalCount } }", "BAD_USER_INPUT", False),
        ('{ posts(after: "nonsense") { totalCount } }', "BAD_USER_INPUT", False),
        ("{ users { edges { node { orders { totalCount } } } } }", "FORBIDDEN", False),
        ("{ posts { edges { node { title } } } ", "GRAPHQL_PARSE_FAILED", True),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED", True),
    ],
)
async def test_errors_are_answered_as_strawberry_answers_them(
    session: AsyncSession, services: Services, query: str, code: str, refused: bool
) -> None:
    await make_user(session)
    await make_user(session)
    fast = FastPath(SCHEMA)
    answer = await fast.execute(query, None, None, Context(services, None, "t"))
    expected = await SCHEMA.execute(query, context_value=Context(services, None, "t"))

    assert answer is not None
    assert answer.refused is refused
    assert ("data" not in answer.payload) is refused
    assert answer.payload.get("data") == expected.data
    assert {error["extensions"]["code"] for error in answer.payload["errors"]} == {code}
    assert _errors(answer.payload) == _errors({"errors": expected.errors or []})
    assert fast.handed_over == 0


@pytest.mark.parametrize("query", ["mutation { logOut }", "{ __schema { queryType { name } } }"])
async def test_mutations_and_introspection_go_to_strawberry(services: Services, query: str) -> None:
    fast = FastPath(SCHEMA)
    answer = await fast.execute(query, None, None, Context(services, None, "t"))
    assert answer is None
    assert fast.handed_over == (1 if query.startswith("{") else 0)


# A document that is one root lookup skips the level's machinery (Run._lookup): it
# answers as Strawberry does all the same, with its argument's variable there, given a
# default, null where it may not be, and with levels below it to walk.
LONE_LOOKUPS = [
    ("query($id: ID!) { post(id: $id) { title author { username } tags { name } } }", "post"),
    ("query($id: ID!) { p: post(id: $id) { __typename id } }", "post"),
    ('query($id: ID = "UG9zdDox") { post(id: $id) { title } }', None),
    ('query($id: ID = "UG9zdDox") { node(id: $id) { id } }', "null"),
    ("query($id: ID!) { node(id: $id) { ... on Post { title published } } }", "post"),
    ("{ viewer { username orders { totalCount } } }", None),
    (
        "query($name: String!) { user(username: $name) { username postCount "
        "posts(first: 2) { totalCount edges { node { title author { username } } } } } }",
        "name",
    ),
    ('{ tag(name: "t1") { name postCount posts(first: 2) { edges { node { title } } } } }', None),
    ('{ product(sku: "nope") { name } }', None),
    # Answered off the post's row (Run._off_row): every column, its ID, its author's
    # and its tags'; a draft, seen by its author only; an ID of another type.
    (
        "query($id: ID!) { post(id: $id) { id title body published publishedAt createdAt "
        "updatedAt author { id username fullName } tags { id name } } }",
        "draft",
    ),
    ("query($id: ID!) { post(id: $id) { ... on Post { t: title } title } }", "post"),
    ("query($id: ID!) { post(id: $id) { title } }", "user"),
    # Something below that reads again: the post is made, and its level walked.
    (
        "query($id: ID!) { post(id: $id) { title author { posts(first: 2) { totalCount } } } }",
        "post",
    ),
]


@pytest.mark.parametrize(("query", "variable"), LONE_LOOKUPS)
async def test_a_lone_lookup_answers_as_strawberry_does(
    session: AsyncSession, services: Services, query: str, variable: str | None
) -> None:
    data = await dataset(session)
    given: dict[str | None, dict[str, Any]] = {
        "post": {"id": encode_id("Post", data["post"].id)},
        "name": {"name": "ann"},
        "null": {"id": None},
        "draft": {"id": encode_id("Post", data["draft"].id)},
        "user": {"id": encode_id("User", data["viewers"][1].id)},
        None: {},
    }
    variables = given[variable]
    await same_as_strawberry(services, query, variables, data["viewers"])


async def test_a_post_by_id_is_answered_off_its_row(
    session: AsyncSession, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No Post or User is made for it (the bench's f): its fields all read off the row.
    from schema.types.post import Post
    from schema.types.user import User

    data = await dataset(session)
    query = "query($id: ID!) { post(id: $id) { id title author { username } tags { name } } }"
    variables = {"id": encode_id("Post", data["post"].id)}
    fast = FastPath(SCHEMA)
    expected = await fast.execute(query, variables, None, Context(services, None, "t"))

    def made(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an object was made")

    monkeypatch.setattr(Post, "from_row", made)
    monkeypatch.setattr(User, "from_row", made)
    answer = await fast.execute(query, variables, None, Context(services, None, "t"))

    assert answer == expected
    assert answer is not None
    assert answer.payload["data"]["post"]["title"] == data["post"].title


async def test_a_lone_lookup_that_fails_is_masked_in_place(
    session: AsyncSession, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schema import loaders

    data = await dataset(session)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the read failed")

    monkeypatch.setattr(loaders, "read_batch", broken)
    query = "query($id: ID!) { post(id: $id) { title } }"
    variables = {"id": encode_id("Post", data["post"].id)}
    answer = await FastPath(SCHEMA).execute(query, variables, None, Context(services, None, "t"))

    assert answer is not None
    assert answer.payload["data"] == {"post": None}
    [error] = answer.payload["errors"]
    assert error["path"] == ["post"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "the read failed" not in str(answer.payload)


@pytest.mark.parametrize("limit", [100, 200, 400])
async def test_an_answer_too_large_leaves_no_read_unawaited(
    session: AsyncSession, services: Services, limit: int
) -> None:
    # Refused midway through a level (QUERY_TOO_COMPLEX, `responseBytes`), the fields
    # of that level already started are still seen to their end: none is left never
    # awaited (Python warns of such a coroutine when it is collected).
    data = await dataset(session)
    query = (
        "query($name: String!) { user(username: $name) { username email "
        "orders { totalCount edges { node { total } } } "
        "posts(first: 10) { totalCount edges { node { title tags { name } } } } } }"
    )
    admin = data["viewers"][2]
    viewer = Viewer(admin.id, admin.is_admin, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = await FastPath(SCHEMA, max_response_bytes=limit).execute(
            query, {"name": "ann"}, None, Context(services, viewer, "t")
        )
        gc.collect()
    assert answer is not None
    assert answer.payload["data"] is None
    [error] = answer.payload["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "responseBytes"
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
