"""A graphql-transport-ws client over a real socket (the `websockets` package), for
tests against served processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


class GraphQLSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    async def next(self, within_s: float = 5.0) -> dict[str, Any]:
        """The next message other than a ping (answered, as clients do)."""
        async with asyncio.timeout(within_s):
            while True:
                message: dict[str, Any] = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                return message

    async def silent_for(self, seconds: float) -> bool:
        """True when nothing but pings arrives for `seconds`."""
        try:
            message = await self.next(within_s=seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message}")


@asynccontextmanager
async def graphql_socket(base_url: str, token: str | None = None) -> AsyncIterator[GraphQLSocket]:
    """A connection to `base_url`'s /graphql (http://host:port), initialised and
    acknowledged, signed in with `token` when given."""
    url = base_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], open_timeout=10) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield GraphQLSocket(ws)
