"""A lone surrogate (`"\\ud800"` is valid JSON, not valid UTF-8) is bad input, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import codes
from tests.factories import make_token, make_user

SURROGATE = '"x\\ud800y"'


def _body(query: str, surrogate: str = SURROGATE) -> str:
    """A JSON body whose variable `s` holds a lone surrogate (json.dumps would escape it
    as valid UTF-16, so it goes in as raw JSON text)."""
    return json.dumps({"query": query, "variables": {"s": "@"}}).replace('"@"', surrogate)


async def _send(client: httpx.AsyncClient, body: str, token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", content=body.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    payload: dict[str, Any] = response.json()
    return payload


@pytest.mark.parametrize(
    "query",
    [
        "query($s: String!) { user(username: $s) { id } }",
        "query($s: String!) { tag(name: $s) { id } }",
        "query($s: String) { posts(filter: {search: $s}) { totalCount } }",
        "query($s: String) { users(search: $s) { totalCount } }",
        "query($s: String) { posts(after: $s) { totalCount } }",
        "query($s: ID!) { node(id: $s) { id } }",
    ],
)
async def test_in_a_query_it_is_bad_user_input(
    client: httpx.AsyncClient, session: AsyncSession, query: str
) -> None:
    await make_user(session)
    payload = await _send(client, _body(query))
    assert set(codes(payload)) <= {"BAD_USER_INPUT"}
    if "node" in query:
        assert payload == {"data": {"node": None}}
    else:
        assert codes(payload) == ["BAD_USER_INPUT"]


async def test_in_a_document_it_is_refused(client: httpx.AsyncClient) -> None:
    body = '{"query": "{ user(username: \\"x\\ud800\\") { id } }"}'
    payload = await _send(client, body)
    assert codes(payload) in (["BAD_USER_INPUT"], ["GRAPHQL_PARSE_FAILED"])


async def test_in_a_mutation_it_is_a_user_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    mutation = (
        "mutation($s: String!) { createPost(input: {title: $s, body: $s, tags: [$s]}) "
        "{ post { id } userErrors { field code } } }"
    )
    payload = await _send(client, _body(mutation), token)
    result = payload["data"]["createPost"]
    assert result["post"] is None
    fields = {tuple(error["field"]) for error in result["userErrors"]}
    assert ("input", "title") in fields
    assert {error["code"] for error in result["userErrors"]} == {"INVALID"}


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        (
            "mutation($s: String!) { logIn(input: {login: $s, password: $s}) "
            "{ token userErrors { field code } } }",
            "logIn",
        ),
        (
            'mutation($s: String!) { signUp(input: {username: "abc", email: "a@b.co", '
            "password: $s}) { token userErrors { field code } } }",
            "signUp",
        ),
    ],
)
async def test_in_a_sign_in_it_is_a_user_error(
    client: httpx.AsyncClient, mutation: str, path: str
) -> None:
    payload = await _send(client, _body(mutation, '"pppppppp\\ud800"'))
    assert "errors" not in payload, payload
    result = payload["data"][path]
    assert result["token"] is None
    assert [error["code"] for error in result["userErrors"]] == ["INVALID"]
