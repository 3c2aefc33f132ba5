"""Requests the service cannot, or must not, run: a 4xx with a GraphQL error body, never a 5xx.

API.md ("Transport", "Errors", "Limits") and the GraphQL-over-HTTP specification decide
each status here. Every refused request is answered with
`{"errors": [{"message": ..., "extensions": {"code": ...}}]}` in JSON, a code API.md
names (never INTERNAL_SERVER_ERROR) and an `x-request-id` header.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_post, make_product, make_token, make_user, snapshot

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_TYPES = ("application/json", GRAPHQL_RESPONSE)
API_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COMPLEX",
        "PERSISTED_QUERY_NOT_FOUND",
        "RATE_LIMITED",
        "TIMEOUT",
        "INTERNAL_SERVER_ERROR",
    }
)
REFUSAL_CODES = API_CODES - {"INTERNAL_SERVER_ERROR"}
LIMIT = 100 * 1024  # API.md: request body at most 100 KiB
TYPENAME = '{"query": "{ __typename }"}'
ROOT = Path(__file__).resolve().parent.parent
APP_SOURCES = tuple(str(ROOT / folder) for folder in ("app.py", "schema", "db"))


def _show(response: httpx.Response) -> str:
    return (
        f"HTTP {response.status_code} {dict(response.headers)!r}\n"
        f"{response.content[:600].decode('utf-8', 'replace')}"
    )


def assert_error_response(
    response: httpx.Response,
    status: int | Collection[int],
    codes: Collection[str] = REFUSAL_CODES,
) -> dict[str, Any]:
    """A GraphQL error body with one of `codes`, the status wanted and an x-request-id."""
    statuses = {status} if isinstance(status, int) else set(status)
    assert response.status_code in statuses, f"wanted HTTP {sorted(statuses)}: {_show(response)}"
    assert response.headers.get("x-request-id"), f"no x-request-id: {_show(response)}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(JSON_TYPES), f"not a JSON body: {_show(response)}"
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"the body is not JSON: {_show(response)}")
    assert isinstance(body, dict), _show(response)
    errors = body.get("errors")
    assert isinstance(errors, list), f"no errors list: {_show(response)}"
    assert errors, f"an empty errors list: {_show(response)}"
    for error in errors:
        assert isinstance(error, dict), _show(response)
        assert isinstance(error.get("message"), str), _show(response)
        assert error["message"], _show(response)
        code = (error.get("extensions") or {}).get("code")
        assert code in codes, f"code {code!r}, wanted one of {sorted(codes)}: {_show(response)}"
    return body


async def post_raw(
    client: httpx.AsyncClient,
    content: bytes | str,
    *,
    content_type: str | None = "application/json",
    accept: str | None = None,
    **headers: str,
) -> httpx.Response:
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    if content_type is not None:
        sent["content-type"] = content_type
    if accept is not None:
        sent["accept"] = accept
    raw = content.encode() if isinstance(content, str) else content
    return await send(client, "POST", content=raw, headers=sent)


async def send(
    client: httpx.AsyncClient,
    method: str,
    *,
    content: bytes | str | AsyncIterator[bytes] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | dict[bytes, bytes] | None = None,
) -> httpx.Response:
    """One request to /graphql. An exception out of the app (a 500 with no body worth
    the name and no x-request-id, from a real server) fails the test with its origin."""
    request = client.build_request(
        method, "/graphql", content=content, params=params, headers=headers
    )
    try:
        return await client.send(request)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if f.filename.startswith(APP_SOURCES)]
        shown = ([ours[-1]] if ours else []) + frames[-2:]
        where = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in shown)
        pytest.fail(f"the app raised {exc!r} (a real server answers 500):\n{where}")


def _json(payload: object) -> bytes:
    """JSON as a client sends it: ASCII, with lone surrogates as \\u escapes."""
    return json.dumps(payload).encode()


# --- bodies the service cannot read: 400 --------------------------------------------------

UNREADABLE = {
    # Not a JSON object.
    "number": b"42",
    "null": b"null",
    "string": b'"x"',
    "true": b"true",
    "empty list": b"[]",
    "list of an empty object": b"[{}]",
    "list of a query (a batch)": b'[{"query": "{ __typename }"}]',
    "deeply nested lists": b"[" * 40_000 + b"]" * 40_000,
    # No query at all.
    "empty object": b"{}",
    "query null": b'{"query": null}',
    "only variables": b'{"variables": {}}',
    # Not UTF-8.
    "latin-1 in a string": b'{"query": "{ user(username: \\"caf\xe9\\") { id } }"}',
    "bytes ff fe": b"\xff\xfe{\x00}\x00",
    "utf-16 with a byte order mark": '{"query": "{ __typename }"}'.encode("utf-16"),
    "truncated utf-8": b'{"query": "{ __typename }", "x": "\xe2\x82"}',
    # Not JSON.
    "empty body": b"",
    "whitespace": b" \n\t ",
    "an open brace": b"{",
    "unterminated object": b'{"query": "{ __typename }"',
    "single quotes": b"{'query': '{ __typename }'}",
    "trailing comma": b'{"query": "{ __typename }",}',
    "trailing garbage": b'{"query": "{ __typename }"} {}',
    "NaN": b'{"query": "{ __typename }", "variables": {"n": NaN}}',
    "Infinity": b'{"query": "{ __typename }", "variables": {"n": -Infinity}}',
    "a bare NUL": b'{"query": "{ __typename }"}\x00',
    "an unescaped control character": b'{"query": "{ __typename \n}"}',
    # query not a string.
    "query number": b'{"query": 42}',
    "query object": b'{"query": {"kind": "Document"}}',
    "query list": b'{"query": ["{ __typename }"]}',
    "query boolean": b'{"query": true}',
    # operationName not a string.
    "operationName object": b'{"query": "query Q { __typename }", "operationName": {}}',
    "operationName list": b'{"query": "query Q { __typename }", "operationName": []}',
    "operationName number": b'{"query": "query Q { __typename }", "operationName": 5}',
    "operationName boolean": b'{"query": "query Q { __typename }", "operationName": false}',
    # variables not an object.
    "variables string": b'{"query": "{ __typename }", "variables": "{}"}',
    "variables list": b'{"query": "{ __typename }", "variables": []}',
    "variables number": b'{"query": "{ __typename }", "variables": 5}',
    "variables boolean": b'{"query": "{ __typename }", "variables": true}',
    # extensions not an object.
    "extensions string": b'{"query": "{ __typename }", "extensions": "x"}',
    "extensions list": b'{"query": "{ __typename }", "extensions": []}',
    "extensions number": b'{"query": "{ __typename }", "extensions": 5}',
}


@pytest.mark.parametrize("accept", [None, "application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize("body", list(UNREADABLE.values()), ids=list(UNREADABLE))
async def test_an_unreadable_body_is_400(
    client: httpx.AsyncClient, body: bytes, accept: str | None
) -> None:
    response = await post_raw(client, body, accept=accept)
    assert_error_response(response, 400)


async def test_deeply_nested_variables_are_refused_not_a_crash(client: httpx.AsyncClient) -> None:
    depth = 30_000
    body = (
        b'{"query": "query ($s: String) { users(search: $s) { totalCount } }", '
        b'"variables": {"s": ' + b"[" * depth + b"]" * depth + b"}}"
    )
    response = await post_raw(client, body)
    # An unreadable body (400), or a variable that does not coerce (200, BAD_USER_INPUT).
    assert_error_response(response, {200, 400}, {"BAD_USER_INPUT"})


async def test_a_huge_integer_variable_does_not_coerce(client: httpx.AsyncClient) -> None:
    body = (
        b'{"query": "query ($n: Int) { users(first: $n) { totalCount } }", '
        b'"variables": {"n": 1' + b"0" * 5_000 + b"}}"
    )
    response = await post_raw(client, body)
    assert_error_response(response, {200, 400}, {"BAD_USER_INPUT"})


# --- media types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "",
    ],
)
async def test_a_post_that_is_not_application_json_is_4xx(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    """GraphQL over HTTP: a POST without a Content-Type SHOULD get a 4xx; a media type
    the server does not take is 415 (Unsupported Media Type) by HTTP's rules."""
    response = await post_raw(client, TYPENAME, content_type=content_type)
    assert_error_response(response, {400, 415})


# --- methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("mutation { logOut }", None),
        ("mutation M { logOut }", "M"),
        ("query Q { __typename } mutation M { logOut }", "M"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_mutation_over_get_is_405(
    client: httpx.AsyncClient, query: str, operation_name: str | None, accept: str
) -> None:
    params = {"query": query}
    if operation_name is not None:
        params["operationName"] = operation_name
    response = await send(client, "GET", params=params, headers={"accept": accept})
    assert_error_response(response, 405)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await send(
        client, method, content=TYPENAME, headers={"content-type": "application/json"}
    )
    assert_error_response(response, 405)


async def test_a_405_names_the_allowed_methods(client: httpx.AsyncClient) -> None:
    """HTTP (RFC 9110, 15.5.6): a 405 response MUST carry an Allow header."""
    mutation = await send(client, "GET", params={"query": "mutation { logOut }"})
    assert mutation.status_code == 405, _show(mutation)
    assert "POST" in mutation.headers.get("allow", ""), _show(mutation)
    put = await send(client, "PUT", content=TYPENAME)
    assert put.status_code == 405, _show(put)
    allowed = {m.strip() for m in put.headers.get("allow", "").split(",")}
    assert {"GET", "POST"} <= allowed, _show(put)


# --- GET --------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"variables": "{}"},
        {"operationName": "Q"},
        {"query": "query ($n: Int) { users(first: $n) { totalCount } }", "variables": "{not"},
        {"query": "query ($n: Int) { users(first: $n) { totalCount } }", "variables": "[1]"},
        {"query": "query ($n: Int) { users(first: $n) { totalCount } }", "variables": "5"},
        {"query": "query ($n: Int) { users(first: $n) { totalCount } }", "variables": '"x"'},
        {"query": "{ __typename }", "extensions": "{not"},
        {"query": "{ __typename }", "extensions": "[]"},
    ],
    ids=[
        "no query",
        "variables without a query",
        "operationName without a query",
        "variables not JSON",
        "variables a list",
        "variables a number",
        "variables a string",
        "extensions not JSON",
        "extensions a list",
    ],
)
async def test_an_unreadable_get_is_400(
    client: httpx.AsyncClient, params: dict[str, str], accept: str
) -> None:
    response = await send(client, "GET", params=params, headers={"accept": accept})
    assert_error_response(response, 400)


# --- the body limit ---------------------------------------------------------------------------


def _oversized() -> bytes:
    padding = "#" + "x" * (LIMIT + 1) + "\n"
    return _json({"query": padding + "{ __typename }"})


@pytest.mark.parametrize("accept", [None, GRAPHQL_RESPONSE])
async def test_a_body_over_the_limit_with_its_length_is_413(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    body = _oversized()
    response = await post_raw(client, body, accept=accept)
    assert_error_response(response, 413)


@pytest.mark.parametrize("accept", [None, GRAPHQL_RESPONSE])
async def test_a_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    body = _oversized()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    request = client.build_request("POST", "/graphql", content=chunks(), headers=headers)
    assert "content-length" not in request.headers
    assert request.headers.get("transfer-encoding") == "chunked"
    response = await send(client, "POST", content=chunks(), headers=headers)
    assert_error_response(response, 413)


async def test_a_put_over_the_limit_is_refused_with_a_graphql_error(
    client: httpx.AsyncClient,
) -> None:
    response = await send(
        client, "PUT", content=_oversized(), headers={"content-type": "application/json"}
    )
    assert_error_response(response, {405, 413})


# --- application/graphql-response+json: documents that never ran ----------------------------


@pytest.mark.parametrize(
    ("payload", "codes"),
    [
        ({"query": "{ posts { "}, {"GRAPHQL_PARSE_FAILED"}),
        ({"query": "{"}, {"GRAPHQL_PARSE_FAILED"}),
        ({"query": ""}, {"GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT"}),
        ({"query": "{ nope }"}, {"GRAPHQL_VALIDATION_FAILED"}),
        ({"query": '{ users(first: "x") { totalCount } }'}, {"GRAPHQL_VALIDATION_FAILED"}),
        (
            {"query": "fragment F on User { id }"},
            {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"},
        ),
        (
            {"query": "query ($n: Int!) { users(first: $n) { totalCount } }"},
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
        (
            {
                "query": "query ($n: Int!) { users(first: $n) { totalCount } }",
                "variables": {"n": "ten"},
            },
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
        (
            {"query": "query A { __typename } query B { __typename }"},
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
        (
            {"query": "query A { __typename }", "operationName": "B"},
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
        (
            {"query": "mutation ($id: ID!) { deletePost(id: $id) { deletedId } }"},
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
        (
            {
                "query": "mutation ($id: ID!) { deletePost(id: $id) { deletedId } }",
                "variables": {"id": [1]},
            },
            {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"},
        ),
    ],
    ids=[
        "parse failure",
        "an open brace",
        "an empty document",
        "unknown field",
        "argument of the wrong type",
        "no operation",
        "missing variable",
        "variable that does not coerce",
        "two operations and no operationName",
        "unknown operationName",
        "a mutation's missing variable",
        "a mutation's variable that does not coerce",
    ],
)
async def test_a_request_error_is_400_without_data_for_graphql_response_json(
    client: httpx.AsyncClient, payload: dict[str, Any], codes: set[str]
) -> None:
    """GraphQL over HTTP: with application/graphql-response+json, a request error (the
    document was refused before execution) is 400 and the body has no `data` entry."""
    response = await post_raw(client, _json(payload), accept=GRAPHQL_RESPONSE)
    body = assert_error_response(response, 400, codes)
    assert "data" not in body, _show(response)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE), _show(response)


@pytest.mark.parametrize(
    "payload",
    [
        {
            "query": "query ($n: Int!) { users(first: $n) { totalCount } }",
            "variables": {"n": "ten"},
        },
        {"query": "query A { __typename } query B { __typename }"},
        {"query": "query A { __typename }", "operationName": "B"},
    ],
    ids=["variable that does not coerce", "two operations", "unknown operationName"],
)
async def test_a_request_error_is_200_for_application_json(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    """GraphQL over HTTP: with application/json, a well-formed request SHOULD get 200,
    whatever GraphQL request error it raises."""
    response = await post_raw(client, _json(payload), accept="application/json")
    body = assert_error_response(response, 200, {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"})
    assert body.get("data") is None, _show(response)


# --- hostile text in arguments: a lone surrogate, NUL -----------------------------------------

SURROGATE = "\ud800"
SEARCHES = {
    "users": "query ($s: String) { users(search: $s) { totalCount } }",
    "posts": "query ($s: String) { posts(filter: {search: $s}) { totalCount } }",
    "tags": "query ($s: String) { tags(search: $s) { totalCount } }",
    "products": "query ($s: String) { products(search: $s) { totalCount } }",
    "user": "query ($s: String!) { user(username: $s) { id } }",
    "tag": "query ($s: String!) { tag(name: $s) { id } }",
    "product": "query ($s: String!) { product(sku: $s) { id } }",
    "author filter": "query ($s: String) { posts(filter: {authorUsername: $s}) { totalCount } }",
    "tag filter": "query ($s: String) { posts(filter: {tag: $s}) { totalCount } }",
    "cursor": "query ($s: String) { users(after: $s) { totalCount } }",
    "createdAfter": "query ($s: DateTime) { posts(filter: {createdAfter: $s}) { totalCount } }",
}


@pytest.mark.parametrize("text", [SURROGATE, f"a{SURROGATE}b", "\udfff", "a\x00b"])
@pytest.mark.parametrize("query", list(SEARCHES.values()), ids=list(SEARCHES))
async def test_unencodable_text_in_a_variable_is_bad_user_input(
    client: httpx.AsyncClient, query: str, text: str
) -> None:
    """Text PostgreSQL cannot hold (a lone surrogate has no UTF-8 form; NUL is not
    allowed in text) is the caller's mistake: BAD_USER_INPUT, never an internal error."""
    response = await post_raw(client, _json({"query": query, "variables": {"s": text}}))
    assert_error_response(response, {200, 400}, {"BAD_USER_INPUT"})


@pytest.mark.parametrize(
    "document",
    [
        # The JSON body escapes a lone surrogate: the document itself holds one.
        '{ users(search: "\ud800") { totalCount } }',
        '{ user(username: "a\udfffb") { id } }',
        # The GraphQL string escapes it.
        '{ users(search: "\\ud800") { totalCount } }',
        '{ user(username: "\\u{D800}") { id } }',
        # NUL, escaped in the GraphQL string.
        '{ users(search: "\\u0000") { totalCount } }',
    ],
    ids=["raw surrogate", "raw low surrogate", "escaped", "escaped braces", "escaped NUL"],
)
async def test_unencodable_text_in_the_document_is_refused(
    client: httpx.AsyncClient, document: str
) -> None:
    response = await post_raw(client, _json({"query": document}))
    assert_error_response(response, {200, 400}, {"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"})


@pytest.mark.parametrize("text", [SURROGATE, "a\x00b"], ids=["surrogate", "NUL"])
async def test_unencodable_text_in_a_node_id_is_null(client: httpx.AsyncClient, text: str) -> None:
    """API.md: a malformed ID gives null, never an internal error."""
    query = "query ($id: ID!) { node(id: $id) { id } post(id: $id) { id } }"
    response = await post_raw(client, _json({"query": query, "variables": {"id": text}}))
    assert response.status_code == 200, _show(response)
    assert response.json() == {"data": {"node": None, "post": None}}, _show(response)


@pytest.mark.parametrize(
    "payload",
    [
        {
            "query": "query ($n: Int) { users(first: $n) { totalCount } }",
            "variables": {"n": SURROGATE},
        },
        {
            "query": "query ($f: PostFilter) { posts(filter: $f) { totalCount } }",
            "variables": {"f": {SURROGATE: 1}},
        },
        {
            "query": "query ($o: PostOrder) { posts(orderBy: $o) { totalCount } }",
            "variables": {"o": SURROGATE},
        },
        {
            "query": "query ($d: DateTime) { posts(filter: {createdAfter: $d}) { totalCount } }",
            "variables": {"d": f"2026-01-01T00:00:00{SURROGATE}"},
        },
        {"query": "query A { __typename }", "operationName": SURROGATE},
        {"query": "{ users(first: 1) { totalCount } }", "variables": {SURROGATE: SURROGATE}},
    ],
    ids=[
        "Int",
        "input field name",
        "enum",
        "DateTime",
        "operationName",
        "unused variable",
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_an_error_that_names_unencodable_input_is_still_answered(
    client: httpx.AsyncClient, payload: dict[str, Any], accept: str
) -> None:
    """Error messages may quote what the client sent; a lone surrogate in it must not
    turn the answer into a 500 (the JSON encoder cannot write one as UTF-8)."""
    response = await post_raw(client, _json(payload), accept=accept)
    if response.status_code == 200 and "errors" not in response.json():
        return  # ignored, as an unused variable may be
    assert_error_response(response, {200, 400}, {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"})


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_refused_not_an_internal_error(
    client: httpx.AsyncClient, method: str
) -> None:
    """API.md: subscriptions are served over the WebSocket. Asked over plain HTTP, the
    answer is a refusal the client can act on, not an internal error."""
    query = "subscription { postPublished { id } }"
    if method == "POST":
        response = await post_raw(client, _json({"query": query}))
    else:
        response = await send(client, "GET", params={"query": query})
    assert_error_response(
        response, {200, 400, 405}, {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
    )


# --- hostile text in mutation inputs: a userError, nothing changed ----------------------------


@pytest.fixture
async def author(session: AsyncSession) -> tuple[int, str]:
    user = await make_user(session)
    return user.id, await make_token(session, user.id)


@pytest.fixture
async def admin_token(session: AsyncSession) -> str:
    admin = await make_user(session, is_admin=True)
    return await make_token(session, admin.id)


async def _mutate(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None
) -> tuple[httpx.Response, dict[str, Any]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await post_raw(client, _json({"query": query, "variables": variables}), **headers)
    assert response.status_code == 200, _show(response)
    assert response.headers.get("x-request-id"), _show(response)
    body = response.json()
    assert "errors" not in body, f"wanted userErrors, not top-level errors: {_show(response)}"
    return response, body


def _assert_user_error(
    response: httpx.Response, payload: dict[str, Any], object_field: str, input_field: str
) -> None:
    assert payload[object_field] is None, _show(response)
    errors = payload["userErrors"]
    assert errors, f"no userErrors: {_show(response)}"
    fields = [error.get("field") or [] for error in errors]
    assert any(input_field in path for path in fields), (
        f"no userError names {input_field!r}: {_show(response)}"
    )


CREATE_POST = """
mutation ($input: CreatePostInput!) {
  createPost(input: $input) { post { id title } userErrors { field message code } }
}"""


@pytest.mark.parametrize(
    "text", [SURROGATE, f"ok{SURROGATE}", "a\x00b"], ids=["lone", "tail", "NUL"]
)
@pytest.mark.parametrize("field", ["title", "body", "tags"])
async def test_unencodable_text_in_create_post_is_a_user_error(
    client: httpx.AsyncClient,
    session: AsyncSession,
    author: tuple[int, str],
    field: str,
    text: str,
) -> None:
    _, token = author
    post_input: dict[str, Any] = {"title": "A title", "body": "A body", "tags": ["ok"]}
    post_input[field] = [text] if field == "tags" else text
    before = await snapshot(session)
    response, body = await _mutate(client, CREATE_POST, {"input": post_input}, token)
    _assert_user_error(response, body["data"]["createPost"], "post", field)
    assert await snapshot(session) == before


async def test_unencodable_text_in_update_post_is_a_user_error(
    client: httpx.AsyncClient, session: AsyncSession, author: tuple[int, str]
) -> None:
    from schema.ids import encode_id

    user_id, token = author
    post = await make_post(session, user_id, title="Before")
    query = """
    mutation ($input: UpdatePostInput!) {
      updatePost(input: $input) { post { id title } userErrors { field message code } }
    }"""
    variables = {"input": {"id": encode_id("Post", post.id), "title": SURROGATE}}
    response, body = await _mutate(client, query, variables, token)
    _assert_user_error(response, body["data"]["updatePost"], "post", "title")


SIGN_UP = """
mutation ($input: SignUpInput!) {
  signUp(input: $input) { token user { id } userErrors { field message code } }
}"""


@pytest.mark.parametrize("field", ["username", "email", "password", "fullName"])
async def test_unencodable_text_in_sign_up_is_a_user_error(
    client: httpx.AsyncClient, session: AsyncSession, field: str
) -> None:
    sign_up: dict[str, Any] = {
        "username": "surrogate_user",
        "email": "surrogate@example.com",
        "password": "long enough password",
        "fullName": "Full Name",
    }
    sign_up[field] = {
        "username": f"user{SURROGATE}",
        "email": f"a{SURROGATE}@example.com",
        "password": SURROGATE * 12,
        "fullName": f"Full {SURROGATE}",
    }[field]
    before = await snapshot(session)
    response, body = await _mutate(client, SIGN_UP, {"input": sign_up}, None)
    payload = body["data"]["signUp"]
    assert payload["token"] is None, _show(response)
    _assert_user_error(response, payload, "user", field)
    assert await snapshot(session) == before


@pytest.mark.parametrize("field", ["login", "password"])
async def test_unencodable_text_in_log_in_is_refused_like_a_wrong_password(
    client: httpx.AsyncClient, session: AsyncSession, field: str
) -> None:
    await make_user(session, username="surrogate_login")
    log_in = {"login": "surrogate_login", "password": "whatever password"}
    log_in[field] = f"x{SURROGATE}y" * 4
    query = """
    mutation ($input: LogInInput!) {
      logIn(input: $input) { token user { id } userErrors { field message code } }
    }"""
    response, body = await _mutate(client, query, {"input": log_in}, None)
    payload = body["data"]["logIn"]
    assert payload["token"] is None, _show(response)
    assert payload["user"] is None, _show(response)
    assert payload["userErrors"], _show(response)


@pytest.mark.parametrize("field", ["sku", "name"])
async def test_unencodable_text_in_create_product_is_a_user_error(
    client: httpx.AsyncClient, admin_token: str, field: str
) -> None:
    product = {"sku": "SKU-S", "name": "A product", "price": "1.00", "stock": 1}
    product[field] = f"x{SURROGATE}"
    query = """
    mutation ($input: CreateProductInput!) {
      createProduct(input: $input) { product { id } userErrors { field message code } }
    }"""
    response, body = await _mutate(client, query, {"input": product}, admin_token)
    _assert_user_error(response, body["data"]["createProduct"], "product", field)


async def test_unencodable_idempotency_key_is_a_user_error(
    client: httpx.AsyncClient, session: AsyncSession, author: tuple[int, str]
) -> None:
    from schema.ids import encode_id

    _, token = author
    product = await make_product(session, stock=5)
    order = {
        "items": [{"productId": encode_id("Product", product.id), "quantity": 1}],
        "idempotencyKey": f"key{SURROGATE}",
    }
    query = """
    mutation ($input: PlaceOrderInput!) {
      placeOrder(input: $input) { order { id } userErrors { field message code } }
    }"""
    before = await snapshot(session)
    response, body = await _mutate(client, query, {"input": order}, token)
    _assert_user_error(response, body["data"]["placeOrder"], "order", "idempotencyKey")
    assert await snapshot(session) == before


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer",
        b"Bearer ",
        b"Basic dXNlcjpwYXNz",
        b"Bearer a b c",
        b"Bearer \xff\xfe\xfd",
        b"Bearer " + b"t" * 20_000,
        b"bearer\tnot-a-token",
    ],
    ids=["no token", "blank token", "basic", "spaces", "latin-1 bytes", "huge", "tab"],
)
async def test_a_malformed_authorization_header_is_unauthenticated(
    client: httpx.AsyncClient, authorization: bytes
) -> None:
    """API.md: a present but invalid token gets UNAUTHENTICATED for the whole request."""
    response = await send(
        client,
        "POST",
        content=TYPENAME,
        headers={b"content-type": b"application/json", b"authorization": authorization},
    )
    assert_error_response(response, {200, 401}, {"UNAUTHENTICATED"})


@pytest.mark.parametrize(
    "request_id", [b"\xff\xfe", b"x" * 10_000, b""], ids=["latin-1", "huge", "empty"]
)
async def test_any_caller_request_id_gets_an_answer_with_one(
    client: httpx.AsyncClient, request_id: bytes
) -> None:
    response = await send(
        client,
        "POST",
        content=TYPENAME,
        headers={b"content-type": b"application/json", b"x-request-id": request_id},
    )
    assert response.status_code == 200, _show(response)
    assert response.headers.get("x-request-id", "").strip(), _show(response)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_gzip_encoded_body_is_refused_not_a_crash(client: httpx.AsyncClient) -> None:
    import gzip

    response = await post_raw(client, gzip.compress(TYPENAME.encode()), content_encoding="gzip")
    # Decoded and run (200), or refused: unreadable (400) or an unsupported coding (415).
    if response.status_code == 200:
        assert response.json() == {"data": {"__typename": "Query"}}, _show(response)
        assert response.headers.get("x-request-id"), _show(response)
    else:
        assert_error_response(response, {400, 415})
