"""GraphQL over HTTP: methods, content types, limits and the explorer (API.md, "Transport")."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import Storefront, create_app, http_middleware
from schema.query import Query
from settings import Settings
from tests.conftest import Counted, replace_read
from tests.factories import make_post, make_token, make_user


async def test_get_runs_a_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_get_refuses_a_mutation_with_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "mutation { logOut }"})
    assert response.status_code == 405


async def test_graphql_response_json_when_the_client_asks_for_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("query", ["{ posts { ", "{ nope }"])
async def test_a_refused_document_is_400_for_graphql_response_json(
    client: httpx.AsyncClient, query: str
) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    refused = await client.post("/graphql", json={"query": query}, headers=accept)
    plain = await client.post("/graphql", json={"query": query})

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"].startswith("GRAPHQL_")
    assert plain.status_code == 200


async def test_a_browser_gets_graphiql_when_it_is_on(client: httpx.AsyncClient) -> None:
    # The page, its policy and its files: tests/test_graphiql.py.
    response = await client.get(
        "/graphql", headers={"Accept": "text/html", "Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert "content-security-policy" in response.headers
    # The view serves it above the app's Gzip, and sends it through its own.
    assert response.headers["content-encoding"] == "gzip"


async def test_graphiql_is_off_unless_switched_on(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    assert settings.graphiql_enabled is False
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/graphql", headers={"Accept": "text/html"})
            assets = [
                await client.get(path)
                for path in ("/graphiql/storefront.js", "/graphiql/vendor/graphiql.min.js")
            ]
    assert "graphiql" not in response.text.lower()
    assert "content-security-policy" not in response.headers
    assert [asset.status_code for asset in assets] == [404, 404]


async def test_a_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    padding = "#" + "x" * (100 * 1024) + "\n"
    response = await client.post("/graphql", json={"query": padding + "{ __typename }"})
    assert response.status_code == 413


async def test_a_trailing_slash_is_not_redirected_to_the_clients_host(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/graphql/?query={__typename}", headers={"host": "evil.example"})
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.headers["x-request-id"]


async def test_every_response_names_its_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert len(response.headers["x-request-id"]) >= 8


async def test_a_request_over_its_time_limit_is_cut_off_with_timeout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(5)

    replace_read(monkeypatch, Query, "posts", slow)
    settings = Settings(database_url=database_url, request_timeout_s=0.1)
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/graphql", json={"query": "{ posts { edges { node { id } } } }"}
            )
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"


async def test_a_plain_read_answers_as_strawberry_would(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # A body of just query/variables/operationName takes the lean lane; any other key
    # (here `extensions`) goes through Strawberry's view. Both must answer alike.
    author = await make_user(session, username="ada")
    await make_post(session, author.id, title="Hello", tags=["news"])
    query = (
        "query Feed($n: Int!) { posts(first: $n) "
        "{ edges { node { title author { username } tags { name } } } } }"
    )
    plain = {"query": query, "variables": {"n": 5}, "operationName": "Feed"}

    lean = await client.post("/graphql", json=plain, headers={"X-Request-ID": "abc"})
    full = await client.post("/graphql", json={**plain, "extensions": {}})

    assert lean.status_code == full.status_code == 200
    assert lean.json() == full.json()
    assert lean.json()["data"]["posts"]["edges"][0]["node"]["tags"] == [{"name": "news"}]
    assert lean.headers["x-request-id"] == "abc"
    assert full.headers["x-request-id"]
    assert lean.headers["content-type"].startswith("application/json")


async def test_a_mutation_in_a_json_body_still_runs(client: httpx.AsyncClient) -> None:
    # The lane reads the body first; a document it cannot answer gets the same bytes.
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($in: SignUpInput!) { signUp(input: $in) { user { username } } }",
            "variables": {
                "in": {"username": "neo", "email": "neo@example.com", "password": "pw-123456789"}
            },
        },
    )
    assert response.json() == {"data": {"signUp": {"user": {"username": "neo"}}}}


@pytest.mark.parametrize(
    "document",
    ["{ viewer { username } }", "mutation { logOut }"],
)
async def test_a_signed_in_request_looks_its_token_up_once(
    session: AsyncSession, counted: Counted, document: str
) -> None:
    # A read is answered by the lean lane, a mutation by Strawberry's view: neither
    # may pay for the bearer token's lookup twice.
    user = await make_user(session, username="ada")
    token = await make_token(session, user.id)

    _, log = await counted(document, token=token)

    lookups = [s for s in log.statements if "FROM auth_tokens JOIN users" in s]
    assert len(lookups) == 1


async def test_a_failure_outside_the_view_is_a_500_that_names_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Starlette's own 500 would carry no x-request-id: Observe answers it instead, as
    the outermost layer of the app as served (app.Storefront leaves Starlette's out)."""

    async def broken(request: Request) -> Response:
        raise RuntimeError("a detail the client must not see")

    app = Storefront(routes=[Route("/broken", broken)], middleware=http_middleware(Settings()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/broken", headers={"x-request-id": "trace-me"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-me"}
    assert "detail" not in response.text
    [logged] = [r for r in caplog.records if r.exc_info and "trace-me" in r.getMessage()]
    assert "GET /broken" in logged.getMessage()
