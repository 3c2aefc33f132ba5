"""The WebSocket side of /graphql: graphql-transport-ws, with the limits real life needs.

Strawberry speaks the protocol; here is what it leaves to us: text frames of at most
the body limit (4413 beyond), subscribe messages checked like an HTTP body, a coded
error past the subscriptions a connection may hold, keep-alive pings, a cap on the
connections one process holds, the close of a subscriber that fell too far behind
(schema/events.py) so that it never slows the others, and of a connection whose token
was revoked on any instance. TransportWsHandler overrides hooks of Strawberry's handler
(handle_subscribe, handle_connection_init, shutdown, handle_task_exception);
tests/test_subscriptions_in_real_life.py covers each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message, SubscribeMessage

from db.accounts import Viewer
from db.sign_ins import auth_subject
from schema import metrics as api_metrics
from schema.context import Context
from schema.errors import coded_error
from schema.events import QUEUE_SIZE
from schema.transport import BadRequest, encode, error_body, request_params

log = logging.getLogger("storefront.websocket")

# Close codes (docs/API.md). 4413 mirrors HTTP 413. A subscriber too slow gets 4503
# (overloaded, mirroring 503): not 4429, which graphql-transport-ws already means as
# "too many initialisation requests" and which graphql-ws clients never retry after.
# A process at its connection cap answers 1013, the WebSocket code for "try again
# later", which clients retry.
CLOSE_TOO_LARGE = 4413
# graphql-transport-ws's code for a message it cannot take.
CLOSE_INVALID_MESSAGE = 4400
CLOSE_TOO_SLOW = 4503
# The token the connection signed in with was revoked (logOut, on any instance): as
# Strawberry closes a connection_init whose token is refused.
CLOSE_SIGNED_OUT = 4403
CLOSE_TRY_AGAIN_LATER = 1013
# How long a new connection may take to send connection_init; until then it holds one
# of the process's connections for nothing (graphql-ws's own server waits 3 s).
INIT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """What one process allows its WebSockets (the README's settings)."""

    # Connections open at once; one more is accepted and closed with 1013.
    connections: int = 1000
    # Operations one connection runs at once; one more gets a QUERY_TOO_COMPLEX error.
    subscriptions_per_connection: int = 100
    # Events a subscriber may fall behind before it is dropped with 4503.
    queue_events: int = QUEUE_SIZE
    # A graphql-transport-ws `ping` this often on an acknowledged connection, so that
    # proxies and load balancers keep an idle subscription open; 0 sends none.
    ping_interval_s: float = 15.0


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws in text frames, each at most the body limit."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await self.ws.receive_text()
                except KeyError as exc:
                    raise NonTextMessageReceived from exc
                if len(text) > self.view.max_body_bytes:  # type: ignore[attr-defined]
                    # API.md: a message over the body limit closes the socket with 4413.
                    await self.ws.close(CLOSE_TOO_LARGE, "Message too large")
                    return
                try:
                    message = orjson.loads(text)
                except orjson.JSONDecodeError:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from None
                    continue
                if not _is_message(message):
                    # Strawberry's handler would fail on it (an error in the server, the
                    # socket dropped with no code); the protocol closes with 4400.
                    await self.ws.close(CLOSE_INVALID_MESSAGE, "Invalid message")
                    return
                problem = _subscribe_problem(message)
                if problem is None:
                    yield message
                else:
                    # Answered here, as HTTP answers a malformed body: Strawberry would
                    # take a non-string operationName for an internal error.
                    error = error_body(problem, "BAD_USER_INPUT")["errors"]
                    await self.send_json({"id": message["id"], "type": "error", "payload": error})
        except WebSocketDisconnect:
            return

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            # Closed by us (a dropped subscriber) while an operation had a message ready.
            raise WebSocketDisconnected
        try:
            await self.ws.send_text(encode(dict(message)).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def _is_message(message: Any) -> bool:
    """Whether `message` is shaped as graphql-transport-ws asks, as far as Strawberry's
    handler relies on it: an object; a `subscribe` or `complete` names its operation by
    a string `id`, and a `subscribe` carries an object `payload` (one without them
    Strawberry closes with 4400 itself)."""
    if not isinstance(message, dict):
        return False
    if message.get("type") not in ("subscribe", "complete") or "id" not in message:
        return True
    if not isinstance(message["id"], str):
        return False
    return message["type"] != "subscribe" or isinstance(message.get("payload", {}), dict)


def _subscribe_problem(message: Any) -> str | None:
    """What is wrong with a `subscribe` message's payload (graphql-transport-ws)."""
    if not isinstance(message, dict) or message.get("type") != "subscribe":
        return None
    payload = message.get("payload")
    if not isinstance(message.get("id"), str) or not isinstance(payload, dict):
        return None  # the protocol handler closes the socket for these
    try:
        request_params(payload)
    except BadRequest as problem:
        return problem.message
    return None


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with coded limits and pings."""

    _pinger: asyncio.Task[None] | None = None
    _signed_out: Callable[[], None] | None = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            # Strawberry's own refusal carries no code; API.md wants one on every error.
            error = coded_error(
                f"A connection may run at most {limit} subscriptions at once",
                "QUERY_TOO_COMPLEX",
                limit="subscriptionsPerConnection",
                measured=len(self.operations) + 1,
                maximum=limit,
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def send_message(self, message: Message) -> None:
        if message["type"] == "error":
            # Refused documents (QUERY_TOO_COMPLEX) count by limit, as over HTTP.
            api_metrics.count_refusals(message.get("payload") or ())
        await super().send_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        acknowledged = self.connection_acknowledged
        await super().handle_connection_init(message)
        if acknowledged or not self.connection_acknowledged:
            return  # refused, or a second init (which Strawberry closes with 4429)
        interval = getattr(self.view, "ping_interval_s", 0)
        if interval > 0:
            self._pinger = asyncio.create_task(self._ping(interval))
        signed_in = getattr(self.view, "signed_in", None)
        viewer = self.context.viewer
        if isinstance(signed_in, SignedIn) and viewer is not None:
            ws = self.websocket.ws  # type: ignore[attr-defined]
            self._signed_out = signed_in.add(
                viewer, functools.partial(close_soon, ws, CLOSE_SIGNED_OUT, "Signed out")
            )

    async def _ping(self, interval: float) -> None:
        with contextlib.suppress(WebSocketDisconnected):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self._signed_out is not None:
            self._signed_out()
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        await super().shutdown()

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            return  # the peer left, or was dropped, while an operation had a message ready
        await super().handle_task_exception(error)


class Connections:
    """The WebSockets one process holds, at most `limit` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
    ) -> None:
        if self.open >= self.limit:
            await _refuse(WebSocket(scope, receive, send))
            return
        self.open += 1
        try:
            await app(scope, receive, send)
        finally:
            self.open -= 1


async def _refuse(ws: WebSocket) -> None:
    # Accepted, then closed with a code and a reason a client can act on; refused
    # before accepting, a browser sees only that the handshake failed.
    offered = ws.scope.get("subprotocols") or []
    protocol = GRAPHQL_TRANSPORT_WS_PROTOCOL
    subprotocol = protocol if protocol in offered else None
    log.warning("refused a WebSocket: this process holds its limit of connections")
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.accept(subprotocol=subprotocol)
        await ws.close(CLOSE_TRY_AGAIN_LATER, "Too many connections: try again later")


class SignedIn:
    """This process's WebSockets by the token each signed in with, so that a token
    revoked on any instance (db/notify.py's AUTH channel) closes them with 4403, and so
    does a change of its user's role or standing (`user:<id>`): the viewer a socket
    holds was read when it connected."""

    def __init__(self) -> None:
        self._closers: dict[tuple[str, int], set[Callable[[], None]]] = {}

    def add(self, viewer: Viewer, close: Callable[[], None]) -> Callable[[], None]:
        """Call `close()` when the viewer's token is revoked or their user changes;
        returns its remover."""
        keys = (("token", viewer.token_id), ("user", viewer.user_id))
        for key in keys:
            self._closers.setdefault(key, set()).add(close)

        def remove() -> None:
            for key in keys:
                closers = self._closers.get(key)
                if closers is not None:
                    closers.discard(close)
                    if not closers:
                        del self._closers[key]

        return remove

    def revoked(self, payload: str | None) -> None:
        """The Listener's on_invalidate callback for the AUTH channel.

        After a gap (None) a revocation may have gone unheard; the sockets stay open,
        and their next connection is refused, since a token is checked each time."""
        subject = None if payload is None else auth_subject(payload)
        if subject is None:
            return
        for close in tuple(self._closers.pop(subject, ())):
            close()


def dropper(ws: WebSocket) -> Callable[[], None]:
    """The `drop` of a WebSocket's Context: close it with 4503, from code that cannot
    wait (the fan-out)."""

    def drop() -> None:
        if ws.application_state == WebSocketState.CONNECTED:
            log.warning("dropped a subscriber that fell a whole queue of events behind")
            close_soon(ws, CLOSE_TOO_SLOW, "Subscriber too slow: events were dropped")

    return drop


_closing: set[asyncio.Task[None]] = set()  # held, so none is collected before it has run


def close_soon(ws: WebSocket, code: int, reason: str) -> None:
    """Close `ws` with `code` in a task of its own (once, however often asked)."""
    task = asyncio.get_running_loop().create_task(_close(ws, code, reason))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state != WebSocketState.CONNECTED:
        return  # closed meanwhile, by the peer or for another reason
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.close(code, reason)
