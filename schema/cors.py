"""CORS for the browser origins STOREFRONT_CORS_ORIGINS lists (API.md, "Transport").

A preflight from a listed origin gets 204 with that origin, methods `GET, POST` and
headers `authorization, content-type, x-storefront-consistency`; an actual request from
it gets the origin back and may read `x-request-id` and `x-storefront-consistency`
(schema/consistency.py). Any other origin gets no CORS headers at all: its
preflight goes on to the app (the view answers OPTIONS with 405), as without CORS.

Starlette's CORSMiddleware does not fit that: it answers preflights with 200, allows
the CORS-safelisted headers besides the listed ones, sends its allowed methods and
headers with the 400 it gives a foreign origin's preflight, and its exposed headers
to every origin. Hence this small middleware.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = b"GET, POST"
ALLOW_HEADERS = b"authorization, content-type, x-storefront-consistency"
EXPOSE_HEADERS = b"x-request-id, x-storefront-consistency"
# How long a browser may reuse a preflight's answer (browsers cap it: Chromium at 2 h).
MAX_AGE_S = 600
DEFAULT_PORTS = {"http": 80, "https": 443}
ORIGIN_FORM = "scheme://host or scheme://host:port, e.g. https://app.example.com"


def parse_origins(raw: str) -> tuple[str, ...]:
    """The comma-separated origins of STOREFRONT_CORS_ORIGINS, as browsers send them
    (lower case, no default port); a ValueError names the first that is no origin."""
    origins = (parse_origin(part.strip()) for part in raw.split(",") if part.strip())
    return tuple(dict.fromkeys(origins))


def parse_origin(text: str) -> str:
    def refuse(why: str) -> ValueError:
        return ValueError(f"{text!r} is not an origin: {why} (write {ORIGIN_FORM})")

    if text == "*":
        raise refuse("list each origin; '*' is not supported")
    if any(not 33 <= ord(c) < 127 for c in text):
        raise refuse("it holds a space or a character that is not ASCII (use punycode)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refuse("its host or port cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise refuse("the scheme must be http or https")
    if not parts.hostname:
        raise refuse("it names no host")
    if "@" in parts.netloc:
        raise refuse("it holds a user name")
    if parts.path or "?" in text or "#" in text:
        raise refuse("it has a path, a query or a fragment (a trailing / is a path)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


class Cors:
    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origin.encode("ascii") for origin in origins)
        self.preflight_headers = [
            (b"access-control-allow-methods", ALLOW_METHODS),
            (b"access-control-allow-headers", ALLOW_HEADERS),
            (b"access-control-max-age", str(MAX_AGE_S).encode()),
            (b"vary", b"Origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # WebSockets are not subject to CORS (and sign in with a message, not a cookie).
            await self.app(scope, receive, send)
            return
        origin: bytes | None = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin" and origin is None:
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
        listed = origin is not None and origin in self.origins
        if listed and preflight and scope["method"] == "OPTIONS":
            assert origin is not None
            headers = [(b"access-control-allow-origin", origin), *self.preflight_headers]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        # Every answer varies with Origin, also one that carries no CORS headers: a cache
        # must not hand it to a browser on a listed origin.
        added = [(b"vary", b"Origin")]
        if listed:
            assert origin is not None
            added += [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", EXPOSE_HEADERS),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
