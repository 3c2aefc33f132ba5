"""STOREFRONT_DEBUG_SQL: the answer's `extensions` say what the request cost in SQL,
statement by statement (what a developer in GraphiQL sees beside the answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from settings import Settings
from tests.factories import make_post, make_user

NESTED = """{ users(first: 10) {
  edges { node { username posts(first: 3) { totalCount edges { node { title } } } } } } }"""
SIGN_UP = """mutation { signUp(input: {username: "dev", email: "dev@example.com",
  password: "a long enough password"}) { token } }"""


@pytest.fixture
async def debugging(database_url: str, engine: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url, debug_sql=True), database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_each_statement_has_its_shape_time_and_rows(
    debugging: httpx.AsyncClient, session: AsyncSession
) -> None:
    for name in ("ann", "bob"):
        user = await make_user(session, username=name)
        for n in range(4):
            await make_post(session, user.id, title=f"{name} {n}")
    body = (await debugging.post("/graphql", json={"query": NESTED})).json()
    assert "errors" not in body, body
    extensions = body["extensions"]
    assert extensions["sqlStatements"] == 2
    statements = extensions["sql"]
    assert len(statements) == 2
    by_shape = {statement["shape"]: statement for statement in statements}
    # The users with their pages read ahead: 2 users' rows, 3 + 1 (is there more?) each.
    assert by_shape["posts.users_with_pages"]["rows"] == 2 + 8
    assert by_shape["counts.by_author"]["rows"] == 2
    for statement in statements:
        assert isinstance(statement["ms"], float)
        assert statement["ms"] >= 0


async def test_writes_are_shown_too(debugging: httpx.AsyncClient) -> None:
    body = (await debugging.post("/graphql", json={"query": SIGN_UP})).json()
    assert body["data"]["signUp"]["token"], body
    shapes = [statement["shape"] for statement in body["extensions"]["sql"]]
    at = shapes.index("insert users")
    assert shapes[at : at + 2] == ["insert users", "insert auth_tokens"], shapes
    assert len(shapes) == body["extensions"]["sqlStatements"]


async def test_off_the_answer_says_nothing_of_its_sql(client: httpx.AsyncClient) -> None:
    body = (await client.post("/graphql", json={"query": NESTED})).json()
    assert "extensions" not in body
