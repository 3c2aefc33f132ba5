"""Subscriptions over graphql-transport-ws at /graphql, fed by the mutations' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from app import create_app
from settings import Settings

SIGN_UP = (
    """mutation($input: SignUpInput!) { signUp(input: $input) { token userErrors { code } } }"""
)
CREATE_POST = """mutation($input: CreatePostInput!) {
  createPost(input: $input) { post { id } userErrors { code } } }"""


def _post(client: TestClient, query: str, variables: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_post_published_reaches_a_subscriber_of_its_tag(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    with TestClient(create_app(settings, database_url)) as client:
        signed_up = _post(
            client,
            SIGN_UP,
            {"input": {"username": "writer", "email": "w@example.com", "password": "long enough"}},
        )
        token = signed_up["signUp"]["token"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": 'subscription { postPublished(tag: "News") { title } }'},
                }
            )
            draft = {"title": "Quiet", "body": "b", "tags": ["news"], "published": False}
            other = {"title": "Elsewhere", "body": "b", "tags": ["misc"], "published": True}
            news = {"title": "Loud", "body": "b", "tags": ["news"], "published": True}
            for post in (draft, other, news):
                created = _post(client, CREATE_POST, {"input": post}, token)
                assert created["createPost"]["userErrors"] == []

            message = ws.receive_json()
            assert message == {
                "id": "1",
                "type": "next",
                "payload": {"data": {"postPublished": {"title": "Loud"}}},
            }


def test_a_bad_token_in_connection_init_is_refused(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    with (
        TestClient(create_app(settings, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        message = ws.receive()
    assert message["type"] == "websocket.close"
    assert message["code"] == 4403


def test_subscription_errors_carry_codes(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    with (
        TestClient(create_app(settings, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        query = 'subscription { orderStatusChanged(orderId: "T3JkZXI6MQ") { id } }'
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = ws.receive_json()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["UNAUTHENTICATED"]


def test_the_websocket_serves_subscriptions_only_and_checks_its_messages(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    payloads: list[dict[str, Any]] = [
        {"query": "{ __typename }"},
        {"query": 'mutation { logIn(input: {login: "a", password: "b"}) { token } }'},
        {"query": 5},
        {"query": "subscription { postPublished { id } }", "variables": "x"},
        {"query": "subscription { postPublished { id } }", "operationName": 5},
    ]
    with (
        TestClient(create_app(settings, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        for n, payload in enumerate(payloads):
            ws.send_json({"id": str(n), "type": "subscribe", "payload": payload})
            message = ws.receive_json()
            assert message["type"] == "error", (payload, message)
            codes = [error["extensions"]["code"] for error in message["payload"]]
            assert codes == ["BAD_USER_INPUT"], (payload, message)


def test_a_message_that_is_not_a_protocol_message_closes_the_socket_with_4400(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    """graphql-transport-ws: an invalid message closes the socket with 4400, never an
    error in the server (whose socket then drops without a close code)."""
    query = "subscription { postPublished { id } }"
    messages: list[Any] = [
        None,
        5,
        [1, 2],
        {"type": "complete", "id": [1]},
        {"type": "complete", "id": 1},
        {"type": "subscribe", "id": {}, "payload": {"query": query}},
        {"type": "subscribe", "id": 1, "payload": {"query": query}},
        {"type": "subscribe", "id": "1", "payload": "x"},
        {"type": "subscribe", "payload": {"query": 5}},
    ]
    with TestClient(create_app(settings, database_url)) as client:
        for sent in messages:
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send_json({"type": "connection_init"})
                assert ws.receive_json()["type"] == "connection_ack"
                ws.send_json(sent)
                message = ws.receive()
            assert message["type"] == "websocket.close", (sent, message)
            assert message["code"] == 4400, (sent, message)
        # Before connection_init too.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(None)
            message = ws.receive()
        assert (message["type"], message["code"]) == ("websocket.close", 4400)
