"""Persisted documents (API.md, "Limits"): Apollo APQ shared by instances, trusted documents."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.testclient import TestClient

from app import create_app
from db import persisted_queries
from settings import Settings
from tests.conftest import codes
from tests.factories import make_post, make_user

FEED = "query Feed { posts(first: 2) { edges { node { title } } } }"
TAGS = "query Tags { tags(first: 1) { totalCount } }"


def _hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


@asynccontextmanager
async def _client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_apq_round_trip_is_shared_by_instances(
    settings: Settings, database_url: str, session: AsyncSession, engine: AsyncEngine
) -> None:
    author = await make_user(session)
    await make_post(session, author.id, title="Hello", published=True)
    digest = _hash(FEED)
    async with _client(settings, database_url) as one, _client(settings, database_url) as two:
        unknown = await one.post("/graphql", json={"extensions": _apq(digest)})
        assert unknown.status_code == 200
        assert "data" not in unknown.json()
        assert codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]

        stored = await one.post("/graphql", json={"query": FEED, "extensions": _apq(digest)})
        expected = {"data": {"posts": {"edges": [{"node": {"title": "Hello"}}]}}}
        assert stored.json() == expected

        by_hash = await one.post("/graphql", json={"extensions": _apq(digest)})
        assert by_hash.json() == expected
        # Another instance finds it in the database; GET works as POST does.
        extensions = orjson.dumps(_apq(digest)).decode()
        elsewhere = await two.get("/graphql", params={"extensions": extensions})
        assert elsewhere.json() == expected
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT sha256, query FROM persisted_queries"))).all()
    assert [tuple(row) for row in rows] == [(digest, FEED)]


async def test_a_hash_that_does_not_match_its_query_runs_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    mutation = 'mutation { logIn(input: {login: "nobody", password: "whatever1"}) { token } }'
    response = await client.post(
        "/graphql", json={"query": mutation, "extensions": _apq(_hash(FEED))}
    )
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]
    async with engine.connect() as conn:
        stored = await conn.scalar(text("SELECT count(*) FROM persisted_queries"))
    assert stored == 0


async def test_a_malformed_persisted_query_is_bad_input(client: httpx.AsyncClient) -> None:
    for extensions in ({"persistedQuery": "x"}, _apq("not-a-hash"), _apq(42)):  # type: ignore[arg-type]
        response = await client.post("/graphql", json={"extensions": extensions})
        assert response.status_code == 200
        assert codes(response.json()) == ["BAD_USER_INPUT"]


async def test_an_invalid_document_is_not_stored(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    junk = "{ nope }"
    response = await client.post("/graphql", json={"query": junk, "extensions": _apq(_hash(junk))})
    assert codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM persisted_queries")) == 0


async def test_the_table_keeps_a_bounded_number_of_documents_the_newest(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone may register documents: every new text a client sends must not stay in the
    database for ever. A dropped document is registered again, as APQ clients do."""
    monkeypatch.setattr(persisted_queries, "MAX_STORED", 3)
    documents = [f"query Q{n} {{ __typename }}" for n in range(5)]
    for document in documents:
        response = await client.post(
            "/graphql", json={"query": document, "extensions": _apq(_hash(document))}
        )
        assert response.json() == {"data": {"__typename": "Query"}}
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT query FROM persisted_queries"))).scalars().all()
    assert sorted(kept) == documents[2:]


def _manifest(tmp_path: Path) -> Path:
    """As graphql-codegen's client preset writes it: sha256 of each document -> document."""
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({_hash(FEED): FEED, _hash(TAGS): TAGS}, indent=2))
    return path


async def test_trusted_mode_runs_the_manifest_and_refuses_the_rest(
    settings: Settings, database_url: str, tmp_path: Path, session: AsyncSession
) -> None:
    author = await make_user(session)
    await make_post(session, author.id, title="Hello", published=True)
    trusted = dataclasses.replace(settings, trusted_documents=_manifest(tmp_path))
    expected = {"data": {"posts": {"edges": [{"node": {"title": "Hello"}}]}}}
    async with _client(trusted, database_url) as client:
        body: dict[str, Any]
        for body in (
            {"documentId": f"sha256:{_hash(FEED)}"},
            {"documentId": _hash(FEED)},
            {"extensions": _apq(_hash(FEED))},
            {"query": FEED},
        ):
            response = await client.post("/graphql", json=body)
            assert response.json() == expected, body
        tags = await client.post("/graphql", json={"documentId": _hash(TAGS)})
        assert tags.json() == {"data": {"tags": {"totalCount": 0}}}

        for body in (
            {"query": "{ posts { totalCount } }"},
            {"documentId": _hash("{ posts { totalCount } }")},
            {
                "query": "{ posts { totalCount } }",
                "extensions": _apq(_hash("{ posts { totalCount } }")),
            },
            {"query": 'mutation { logIn(input: {login: "a", password: "b"}) { token } }'},
        ):
            response = await client.post("/graphql", json=body)
            assert "data" not in response.json(), body
            assert codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"], body


def test_trusted_mode_refuses_other_subscriptions(
    settings: Settings, database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    trusted = dataclasses.replace(settings, trusted_documents=_manifest(tmp_path))
    with (
        TestClient(create_app(trusted, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        query = "subscription { postPublished { id } }"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = ws.receive_json()
    assert message["type"] == "error"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_manifest_that_cannot_be_read_is_a_clear_error(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    from settings import ConfigError

    broken = tmp_path / "manifest.json"
    broken.write_text("[1, 2]")
    for path in (broken, tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match="STOREFRONT_TRUSTED_DOCUMENTS"):
            create_app(dataclasses.replace(settings, trusted_documents=path), database_url)


async def test_a_document_postgresql_cannot_store_still_runs_unstored(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    query = "{ __typename } # a\x00b"
    response = await client.post(
        "/graphql", json={"query": query, "extensions": _apq(_hash(query))}
    )
    assert response.json() == {"data": {"__typename": "Query"}}
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM persisted_queries")) == 0


async def test_a_manifest_keyed_by_sha1_names_documents_by_those_keys(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "persisted-documents.json"
    sha1 = hashlib.sha1(TAGS.encode()).hexdigest()
    path.write_text(json.dumps({sha1: TAGS}))
    trusted = dataclasses.replace(settings, trusted_documents=path)
    async with _client(trusted, database_url) as client:
        for body in ({"documentId": sha1}, {"extensions": _apq(_hash(TAGS))}):
            response = await client.post("/graphql", json=body)
            assert response.json() == {"data": {"tags": {"totalCount": 0}}}, body
