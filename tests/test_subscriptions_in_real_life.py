"""Subscriptions that survive real life, in one process: a subscriber too slow is dropped
with its close code, the limits on connections and subscriptions, keep-alive pings, the
"may have missed events" error, and sign-outs heard by another instance."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app import create_app
from db.accounts import token_digest
from db.models import auth_tokens
from db.notify import AUTH
from schema.events import Events, PostPublished
from schema.websocket import CLOSE_SIGNED_OUT, CLOSE_TOO_SLOW, CLOSE_TRY_AGAIN_LATER
from settings import Settings
from tests.factories import make_token, make_user

PROTOCOL = "graphql-transport-ws"
POSTS = {"query": "subscription { postPublished { title } }"}


def _app(settings: Settings, database_url: str, **limits: Any) -> Starlette:
    sockets = dataclasses.replace(settings.sockets, **limits)
    return create_app(dataclasses.replace(settings, sockets=sockets), database_url)


def _client(settings: Settings, database_url: str, **limits: Any) -> TestClient:
    return TestClient(_app(settings, database_url, **limits))


def _acknowledged(ws: Any) -> None:
    ws.send_json({"type": "connection_init"})
    assert ws.receive_json()["type"] == "connection_ack"


def _wait_for_subscribers(client: TestClient, events: Events, count: int) -> None:
    assert client.portal is not None
    deadline = time.monotonic() + 5
    while client.portal.call(len, events) < count:
        assert time.monotonic() < deadline, "the subscription never started"
        time.sleep(0.01)


@pytest.fixture
def subscribed(settings: Settings, database_url: str) -> Iterator[tuple[TestClient, Any, Events]]:
    """A connection subscribed to postPublished, its queue two events long."""
    app = _app(settings, database_url, queue_events=2)
    with TestClient(app) as client:
        events: Events = app.state.events
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            _acknowledged(ws)
            ws.send_json({"id": "1", "type": "subscribe", "payload": POSTS})
            _wait_for_subscribers(client, events, 1)
            yield client, ws, events


def test_a_subscriber_a_whole_queue_behind_is_closed_with_its_code(
    subscribed: tuple[TestClient, Any, Events],
) -> None:
    client, ws, events = subscribed

    def burst() -> None:
        # All at once, before the subscriber's task can run: it falls behind.
        for n in range(5):
            events.dispatch(PostPublished(post_id=n, tag_ids=()))

    assert client.portal is not None
    client.portal.call(burst)
    message = ws.receive()
    assert message["type"] == "websocket.close", message
    assert message["code"] == CLOSE_TOO_SLOW
    assert "too slow" in message["reason"]
    assert client.portal.call(len, events) == 0


def test_missed_events_are_told_with_a_code_and_the_subscription_carries_on(
    subscribed: tuple[TestClient, Any, Events],
) -> None:
    client, ws, events = subscribed
    assert client.portal is not None
    client.portal.call(events.missed)
    message = ws.receive_json()
    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "EVENTS_MAY_BE_MISSED"
    assert error["path"] == ["postPublished"]
    assert client.portal.call(len, events) == 1  # still subscribed


def test_subscriptions_per_connection_are_limited_with_a_coded_error(
    settings: Settings, database_url: str
) -> None:
    with (
        _client(settings, database_url, subscriptions_per_connection=2) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        _acknowledged(ws)
        for id in "123":
            ws.send_json({"id": id, "type": "subscribe", "payload": POSTS})
        message = ws.receive_json()
    assert message["id"] == "3"
    assert message["type"] == "error"
    [error] = message["payload"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "subscriptionsPerConnection",
        "measured": 3,
        "maximum": 2,
    }


def test_a_process_at_its_connection_limit_closes_one_more_with_try_again_later(
    settings: Settings, database_url: str
) -> None:
    with _client(settings, database_url, connections=1) as client:
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as first:
            _acknowledged(first)
            with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as second:
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_json()
                assert closed.value.code == CLOSE_TRY_AGAIN_LATER
            # The first carries on.
            first.send_json({"type": "ping"})
            assert first.receive_json() == {"type": "pong"}
        # A slot frees when a connection closes.
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as again:
            _acknowledged(again)


def test_an_idle_connection_is_pinged(settings: Settings, database_url: str) -> None:
    with (
        _client(settings, database_url, ping_interval_s=0.05) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        _acknowledged(ws)
        assert ws.receive_json() == {"type": "ping"}
        ws.send_json({"type": "pong"})
        assert ws.receive_json() == {"type": "ping"}


async def test_a_sign_out_on_one_instance_is_heard_by_another_within_a_second(
    settings: Settings, database_url: str, engine: AsyncEngine, session: AsyncSession
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    token_id = (
        await session.execute(
            select(auth_tokens.c.id).where(auth_tokens.c.token_hash == token_digest(token))
        )
    ).scalar_one()
    one, other = create_app(settings, database_url), create_app(settings, database_url)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        one.router.lifespan_context(one),
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(one), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(other), base_url="http://b") as b,
    ):
        heard: asyncio.Queue[str | None] = asyncio.Queue()
        other.state.listener.on_invalidate(AUTH, heard.put_nowait)
        viewer = {"query": "{ viewer { username } }"}
        assert (await b.post("/graphql", json=viewer, headers=headers)).json()["data"] == {
            "viewer": {"username": user.username}
        }

        out = await a.post("/graphql", json={"query": "mutation { logOut }"}, headers=headers)
        assert out.json() == {"data": {"logOut": True}}
        assert await asyncio.wait_for(heard.get(), 1.0) == str(token_id)
        refused = (await b.post("/graphql", json=viewer, headers=headers)).json()
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        # After a gap in listening a cache must forget everything: it may have missed one.
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'storefront-listen'"
            )
        )
        assert await asyncio.wait_for(heard.get(), 5.0) is None


def test_a_socket_whose_token_is_revoked_is_closed(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    sign_up = """mutation { signUp(input: {username: "leaver", email: "l@example.com",
      password: "long enough"}) { token } }"""
    with _client(settings, database_url) as client:
        token = client.post("/graphql", json={"query": sign_up}).json()["data"]["signUp"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            ws.send_json({"type": "connection_init", "payload": headers})
            assert ws.receive_json()["type"] == "connection_ack"
            out = client.post("/graphql", json={"query": "mutation { logOut }"}, headers=headers)
            assert out.json() == {"data": {"logOut": True}}
            message = ws.receive()
    assert message["type"] == "websocket.close"
    assert message["code"] == CLOSE_SIGNED_OUT
