"""Bad input gets the outcome API.md names, never an internal error."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import GraphQL, codes
from tests.factories import make_order, make_post, make_product, make_tag, make_token, make_user


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
async def token(session: AsyncSession) -> str:
    """A signed-in user with a post, a tag, a product and an order: every list has rows."""
    user = await make_user(session, username="ann")
    await make_post(session, user.id, tags=["t"])
    await make_tag(session, "u")
    product = await make_product(session, name="Thing")
    await make_order(session, user.id, [(product, 1)])
    return await make_token(session, user.id)


# Every connection field, with the page arguments it takes.
LISTS: dict[str, str] = {
    "users": "users({args}) {{ totalCount }}",
    "posts": "posts({args}) {{ totalCount }}",
    "tags": "tags({args}) {{ totalCount }}",
    "products": "products({args}) {{ totalCount }}",
    "orders": "orders({args}) {{ totalCount }}",
    "User.posts": "viewer {{ posts({args}) {{ totalCount }} }}",
    "User.orders": "viewer {{ orders({args}) {{ totalCount }} }}",
    "Tag.posts": 'tag(name: "t") {{ posts({args}) {{ totalCount }} }}',
}
BACKWARD = {"users", "posts", "User.posts"}
TYPES = {"first": "Int", "last": "Int", "after": "String", "before": "String"}


def document(field: str, arguments: dict[str, Any]) -> str:
    """`field` called with a variable for each of `arguments`."""
    definitions = ", ".join(f"${name}: {TYPES[name]}" for name in arguments)
    args = ", ".join(f"{name}: ${name}" for name in arguments)
    return f"query({definitions}) {{ {LISTS[field].format(args=args)} }}"


def page_cases() -> list[Any]:
    cases = []
    for field in LISTS:
        cases += [
            pytest.param(field, {"first": 101}, id=f"{field}-first-101"),
            pytest.param(field, {"first": -1}, id=f"{field}-first-negative"),
        ]
        if field in BACKWARD:
            cases += [
                pytest.param(field, {"last": 101}, id=f"{field}-last-101"),
                pytest.param(field, {"last": -1}, id=f"{field}-last-negative"),
                pytest.param(field, {"first": 1, "last": 1}, id=f"{field}-first-and-last"),
            ]
    return cases


@pytest.mark.parametrize(("field", "arguments"), page_cases())
async def test_page_sizes_out_of_range_are_bad_user_input(
    gql: GraphQL, token: str, field: str, arguments: dict[str, int]
) -> None:
    body = await gql(document(field, arguments), arguments, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize("field", list(LISTS))
async def test_page_sizes_at_the_limits_are_accepted(gql: GraphQL, token: str, field: str) -> None:
    for arguments in ({"first": 0}, {"first": 100}):
        data(await gql(document(field, arguments), arguments, token=token))
    if field in BACKWARD:
        for arguments in ({"last": 0}, {"last": 100}):
            data(await gql(document(field, arguments), arguments, token=token))


def crafted(*values: Any) -> str:
    return b64(json.dumps(list(values)).encode())


MALFORMED_CURSORS = [
    pytest.param("not a cursor", id="spaces"),
    pytest.param("!!!!", id="not-base64"),
    pytest.param("", id="empty"),
    pytest.param("a" * 2000, id="huge"),
    pytest.param(b64(b"\xff\xfe\x00garbage"), id="not-json"),
    pytest.param(b64(b'{"a": 1}'), id="json-object"),
    pytest.param(b64(b"[]"), id="empty-list"),
    pytest.param(b64(b"null"), id="null"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00"), id="too-short"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00", 1, 2), id="too-long"),
    pytest.param(crafted("newest", "yesterday", 1), id="not-a-date"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00", 1), id="no-offset"),
    pytest.param(crafted("newest", 12, 1), id="number-for-date"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00", "1"), id="string-for-id"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00", True), id="bool-for-id"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00", 1.5), id="float-for-id"),
    pytest.param(crafted("newest", "2026-01-01T00:00:00+00:00", 2**63), id="id-beyond-bigint"),
    pytest.param(crafted("newest", "9999-12-31T23:59:59-14:00", 1), id="date-beyond-year-9999"),
    pytest.param(crafted("newest", "0001-01-01T00:00:00+14:00", 1), id="date-before-year-1"),
]


@pytest.mark.parametrize("cursor", MALFORMED_CURSORS)
async def test_a_malformed_cursor_is_bad_user_input(gql: GraphQL, token: str, cursor: str) -> None:
    for field in ("posts", "User.posts"):
        for name in ("after", "before"):
            body = await gql(document(field, {name: cursor}), {name: cursor}, token=token)
            assert codes(body) == ["BAD_USER_INPUT"], (field, name, body)
    body = await gql(document("Tag.posts", {"after": cursor}), {"after": cursor}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(crafted("username", "a\u0000b", 1), id="nul-in-string"),
        pytest.param(crafted("username", 5, 1), id="number-for-name"),
        pytest.param(crafted("username", "ann", -(2**63) - 1), id="id-below-bigint"),
    ],
)
async def test_a_malformed_users_cursor_is_bad_user_input(
    gql: GraphQL, token: str, cursor: str
) -> None:
    body = await gql(document("users", {"after": cursor}), {"after": cursor}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body


async def cursors_of(gql: GraphQL, token: str) -> dict[str, str]:
    """One real end cursor from every list."""
    body = data(
        await gql(
            """{
              users { pageInfo { endCursor } }
              newest: posts(orderBy: NEWEST) { pageInfo { endCursor } }
              oldest: posts(orderBy: OLDEST) { pageInfo { endCursor } }
              title: posts(orderBy: TITLE) { pageInfo { endCursor } }
              tags { pageInfo { endCursor } }
              products { pageInfo { endCursor } }
              orders { pageInfo { endCursor } }
            }""",
            token=token,
        )
    )
    cursors = {name: connection["pageInfo"]["endCursor"] for name, connection in body.items()}
    assert all(cursors.values()), cursors
    return cursors


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("users", "posts(orderBy: NEWEST, after: $c)"),
        ("newest", "posts(orderBy: TITLE, after: $c)"),
        ("title", "posts(orderBy: OLDEST, after: $c)"),
        ("newest", "users(after: $c)"),
        ("title", "tags(after: $c)"),
        ("users", "products(after: $c)"),
        ("products", "tags(after: $c)"),
        ("tags", "products(after: $c)"),
        ("newest", "orders(after: $c)"),
        ("orders", "posts(orderBy: NEWEST, after: $c)"),
        ("orders", "viewer { posts(after: $c) { totalCount } }"),
        ("newest", "viewer { orders(after: $c) { totalCount } }"),
        ("users", 'tag(name: "t") { posts(after: $c) { totalCount } }'),
        ("newest", 'tag(name: "t") { posts(orderBy: TITLE, after: $c) { totalCount } }'),
    ],
)
async def test_a_cursor_from_another_list_or_ordering_is_bad_user_input(
    gql: GraphQL, token: str, source: str, target: str
) -> None:
    cursor = (await cursors_of(gql, token))[source]
    selection = target if "{" in target else f"{target} {{ totalCount }}"
    body = await gql(f"query($c: String) {{ {selection} }}", {"c": cursor}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body


async def test_a_cursor_works_on_the_list_it_came_from(gql: GraphQL, token: str) -> None:
    cursors = await cursors_of(gql, token)
    body = data(
        await gql(
            """query($u: String, $p: String, $t: String, $g: String, $r: String, $o: String) {
              users(after: $u) { edges { cursor } }
              posts(orderBy: TITLE, after: $p) { edges { cursor } }
              viewer { posts(orderBy: TITLE, before: $p) { edges { cursor } } }
              tag(name: "t") { posts(orderBy: NEWEST, after: $t) { edges { cursor } } }
              tags(after: $g) { edges { cursor } }
              products(after: $r) { edges { cursor } }
              orders(after: $o) { edges { cursor } }
            }""",
            {
                "u": cursors["users"],
                "p": cursors["title"],
                "t": cursors["newest"],
                "g": cursors["tags"],
                "r": cursors["products"],
                "o": cursors["orders"],
            },
            token=token,
        )
    )
    assert body["users"]["edges"] == []
    assert body["posts"]["edges"] == []


@pytest.mark.parametrize(
    "bound",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"],
)
async def test_a_date_bound_beyond_what_utc_can_hold_is_bad_user_input(
    gql: GraphQL, token: str, bound: str
) -> None:
    for name in ("createdAfter", "createdBefore"):
        variables = {"f": {name: bound}}
        body = await gql(
            "query($f: PostFilter) { posts(filter: $f) { totalCount } }", variables, token=token
        )
        assert codes(body) == ["BAD_USER_INPUT"], body
        body = await gql(
            "query($f: PostFilter) { viewer { posts(filter: $f) { totalCount } } }",
            variables,
            token=token,
        )
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_the_widest_date_bounds_are_accepted(gql: GraphQL, token: str) -> None:
    body = await gql(
        """{ posts(filter: {createdAfter: "0001-01-01T00:00:00+00:00",
                          createdBefore: "9999-12-31T23:59:59+00:00"}) { totalCount } }""",
        token=token,
    )
    assert data(body) == {"posts": {"totalCount": 1}}


@pytest.mark.parametrize(
    "query",
    [
        "query($s: String) { users(search: $s) { totalCount } }",
        "query($s: String!) { user(username: $s) { id } }",
        "query($s: String!) { tag(name: $s) { id } }",
        "query($s: String!) { product(sku: $s) { id } }",
        "query($s: String) { posts(filter: {search: $s}) { totalCount } }",
    ],
)
async def test_a_nul_character_in_a_string_argument_is_never_an_internal_error(
    gql: GraphQL, token: str, query: str
) -> None:
    body = await gql(query, {"s": "a\u0000b"}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body


# --- Global IDs ----------------------------------------------------------------------


MALFORMED_IDS = [
    pytest.param("", id="empty"),
    pytest.param("garbage!", id="not-base64"),
    pytest.param("x" * 5000, id="huge"),
    pytest.param("Ünïcödé", id="non-ascii"),
    pytest.param(b64(b"\xff\xfe"), id="not-utf8"),
    pytest.param(b64(b"Post"), id="no-pk"),
    pytest.param(b64(b"Post:"), id="empty-pk"),
    pytest.param(b64(b"Post:abc"), id="letters-pk"),
    pytest.param(b64(b"Post:-1"), id="negative-pk"),
    pytest.param(b64(b"Post:1.0"), id="float-pk"),
    pytest.param(b64(b"Post:99999999999999999999999"), id="pk-beyond-bigint"),
    pytest.param(b64("Post:²".encode()), id="superscript-digit"),
    pytest.param(b64("Post:\u0661".encode()), id="arabic-digit"),
    pytest.param(b64(b"Widget:1"), id="unknown-type"),
    pytest.param(b64(b"post:1"), id="lower-case-type"),
]


@pytest.mark.parametrize("global_id", MALFORMED_IDS)
async def test_a_malformed_id_gives_null(gql: GraphQL, token: str, global_id: str) -> None:
    body = await gql(
        "query($id: ID!) { node(id: $id) { id } post(id: $id) { id } nodes(ids: [$id]) { id } }",
        {"id": global_id},
        token=token,
    )
    assert body == {"data": {"node": None, "post": None, "nodes": [None]}}


async def test_an_id_of_another_type_gives_null_to_post(gql: GraphQL, token: str) -> None:
    ids = data(
        await gql(
            """{ viewer { id } tag(name: "t") { id } posts { edges { node { id } } }
                 orders { edges { node { id } } } }""",
            token=token,
        )
    )
    post_id = ids["posts"]["edges"][0]["node"]["id"]
    query = "query($id: ID!) { post(id: $id) { id } node(id: $id) { __typename } }"
    assert data(await gql(query, {"id": post_id}, token=token)) == {
        "post": {"id": post_id},
        "node": {"__typename": "Post"},
    }
    for other, type_name in [
        (ids["viewer"]["id"], "User"),
        (ids["tag"]["id"], "Tag"),
        (ids["orders"]["edges"][0]["node"]["id"], "Order"),
    ]:
        assert data(await gql(query, {"id": other}, token=token)) == {
            "post": None,
            "node": {"__typename": type_name},
        }


async def test_a_well_formed_id_of_a_missing_row_gives_null(gql: GraphQL, token: str) -> None:
    for type_name in ("User", "Post", "Tag", "Product", "Order"):
        missing = b64(f"{type_name}:424242".encode())
        body = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": missing}, token=token)
        assert body == {"data": {"node": None}}


# --- Documents and transport -------------------------------------------------------------


async def test_a_syntax_error_is_parse_failed(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ posts { edges { node { title }"})
    body = response.json()
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert body.get("data") is None


async def test_an_unknown_field_is_validation_failed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ posts { edges { node { rating } } } }"}
    )
    body = response.json()
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body.get("data") is None


async def test_an_argument_literal_of_the_wrong_type_is_validation_failed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", json={"query": '{ posts(first: "ten") { totalCount } }'}
    )
    assert codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: Int) { posts(first: $n) { totalCount } }", {"n": "ten"}),
        ("query($n: Int) { posts(first: $n) { totalCount } }", {"n": 2**40}),
        ("query($id: ID!) { node(id: $id) { id } }", {}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": None}),
        ("query($o: PostOrder) { posts(orderBy: $o) { totalCount } }", {"o": "RANDOM"}),
        (
            "query($f: PostFilter) { posts(filter: $f) { totalCount } }",
            {"f": {"createdAfter": "soon"}},
        ),
        ("query($f: PostFilter) { posts(filter: $f) { totalCount } }", {"f": {"colour": "red"}}),
        ("query($s: OrderStatus) { orders(status: $s) { totalCount } }", {"s": "LOST"}),
    ],
)
async def test_a_variable_of_the_wrong_type_is_bad_user_input(
    gql: GraphQL, token: str, query: str, variables: dict[str, Any]
) -> None:
    body = await gql(query, variables, token=token)
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert body.get("data") is None


async def test_a_mutation_over_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "mutation { logOut }"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 405


async def test_a_query_over_get_runs(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "{ tags { totalCount } }"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"tags": {"totalCount": 0}}}


# --- first: 0 --------------------------------------------------------------------------


async def test_first_zero_gives_no_edges_and_tells_whether_rows_exist(
    session: AsyncSession, gql: GraphQL
) -> None:
    query = """{
      posts(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage } }
      users(first: 0) { edges { cursor } pageInfo { hasNextPage startCursor endCursor } }
      tags(first: 0) { edges { cursor } pageInfo { hasNextPage } }
      products(first: 0) { edges { cursor } pageInfo { hasNextPage } }
    }"""
    empty = data(await gql(query))
    assert empty["posts"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
    }
    assert empty["users"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "startCursor": None, "endCursor": None},
    }
    assert empty["tags"]["pageInfo"]["hasNextPage"] is False
    assert empty["products"]["pageInfo"]["hasNextPage"] is False

    user = await make_user(session, username="ann")
    await make_post(session, user.id, tags=["t"])
    await make_product(session)
    full = data(await gql(query))
    assert full["posts"] == {
        "totalCount": 1,
        "edges": [],
        "pageInfo": {"hasNextPage": True, "hasPreviousPage": False},
    }
    assert full["users"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": True, "startCursor": None, "endCursor": None},
    }
    assert full["tags"]["pageInfo"]["hasNextPage"] is True
    assert full["products"]["pageInfo"]["hasNextPage"] is True


async def test_first_zero_on_nested_lists(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    await make_user(session, username="ben")
    await make_post(session, ann.id, tags=["t"])
    token = await make_token(session, ann.id)
    body = data(
        await gql(
            """{ users { edges { node { username posts(first: 0) {
                    edges { cursor } pageInfo { hasNextPage } } } } }
                 tag(name: "t") { posts(first: 0) { edges { cursor } pageInfo { hasNextPage } } }
                 viewer { orders(first: 0) { edges { cursor } pageInfo { hasNextPage } } } }""",
            token=token,
        )
    )
    pages = {e["node"]["username"]: e["node"]["posts"] for e in body["users"]["edges"]}
    assert pages == {
        "ann": {"edges": [], "pageInfo": {"hasNextPage": True}},
        "ben": {"edges": [], "pageInfo": {"hasNextPage": False}},
    }
    assert body["tag"]["posts"] == {"edges": [], "pageInfo": {"hasNextPage": True}}
    assert body["viewer"]["orders"] == {"edges": [], "pageInfo": {"hasNextPage": False}}
