"""Request ids: every HTTP response, errors included, names the request it answers."""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ID_LENGTH = 64


def request_id_of(scope: Scope) -> str:
    """The id `RequestIds` gave this request (a new one outside the middleware)."""
    state = scope.get("state") or {}
    request_id = state.get("request_id")
    if isinstance(request_id, str):
        return request_id
    return secrets.token_hex(8)


class RequestIds:
    """Takes the caller's `X-Request-ID` (printable, trimmed) or makes one, keeps it in
    the scope's state for logs and errors, and sends it back on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _given(scope) or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _given(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = bytes(value).decode("latin-1").strip()[:MAX_ID_LENGTH]
            # Only what is safe to echo in a header and to write in a log line.
            if text and all(33 <= ord(c) < 127 for c in text):
                return text
    return None
