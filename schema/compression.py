"""gzip for large answers when the request accepts it (API.md, "Transport").

Why not Starlette's GZipMiddleware: it costs every request, small ones included, and
whether or not the client accepts gzip (it builds two header views and re-normalises
its list of excluded media types per request); on bench/compression.py that is about
a tenth of what the whole middleware stack and endpoint of a tiny read cost. Here a
small answer costs one closure and a length check; compression starts at the first
byte past `minimum_size`.

Only a response whose whole body comes in one message is compressed (every answer of
the view, GraphiQL's page and the health checks do); a streamed one passes as it is.

The view's own answers skip the middleware: DirectRoute hands /graphql to the view
above it, and the view encodes its answer with `encode_large` (the same rules), so a
small answer costs not even the closure (1.5 % of a post by ID's instructions). An
answer whose encoding was already chosen passes the middleware as it is.
"""

from __future__ import annotations

import asyncio
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# API.md: answers over 1 KiB are compressed when the request accepts gzip; smaller ones
# pass as they are. Level 1 (nginx's default too): on bench/compression.py's 27 KB answer
# a third of level 6's CPU for 10 % more bytes.
MINIMUM_BYTES = 1024
LEVEL = 1
# Bodies this large are compressed on a worker thread (zlib lets go of the GIL), so
# one huge answer does not hold up every other request on the event loop.
THREAD_MINIMUM_BYTES = 256 * 1024


class Gzip:
    def __init__(self, app: ASGIApp, *, minimum_size: int, level: int) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None

        async def send_compressed(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                held = message  # until the body says how large the answer is
                return
            if held is None:
                await send(message)
                return
            start, held = held, None
            body = message.get("body", b"")
            if (
                len(body) < self.minimum_size
                or message["type"] != "http.response.body"
                or message.get("more_body", False)
            ):
                await send(start)
                await send(message)
                return
            headers = list(start.get("headers", ()))
            encoded, headers = await encode_large(body, headers, scope["headers"], self.level)
            if encoded is not body:
                message = {**message, "body": encoded}
            await send({**start, "headers": headers})
            await send(message)

        await self.app(scope, receive, send_compressed)


Headers = list[tuple[bytes, bytes]]


async def encode_large(
    body: bytes, headers: Headers, request_headers: Headers, level: int = LEVEL
) -> tuple[bytes, Headers]:
    """A large answer's body and headers as sent: gzipped when the request accepts gzip
    and that makes it smaller, and marked as depending on Accept-Encoding either way.
    Left as they are if their encoding was chosen already (by the view, or by the app
    itself). `headers` is not changed."""
    if _encoding_chosen(headers):
        return body, headers
    headers = [*headers, (b"vary", b"Accept-Encoding")]
    if not accepts_gzip(request_headers):
        return body, headers
    if len(body) >= THREAD_MINIMUM_BYTES:
        compressed = await asyncio.to_thread(_gzip, body, level)
    else:
        compressed = _gzip(body, level)
    if len(compressed) >= len(body):
        return body, headers
    headers = [h for h in headers if h[0].lower() != b"content-length"]
    headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(compressed)).encode())]
    return compressed, headers


def _encoding_chosen(headers: Headers) -> bool:
    for name, value in headers:
        name = name.lower()
        if name == b"content-encoding" or (name == b"vary" and b"accept-encoding" in value.lower()):
            return True
    return False


def _gzip(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    return compressor.compress(body) + compressor.flush()


def accepts_gzip(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether Accept-Encoding lets us send gzip: listed (or `*` when gzip is not) with a
    weight above 0. No header, or one without either, means no."""
    for name, value in headers:
        if name != b"accept-encoding":
            continue
        text = value.decode("latin-1").lower()
        if "gzip" not in text and "*" not in text:
            continue
        weights: dict[str, float] = {}
        for item in text.split(","):
            coding, _, parameters = item.partition(";")
            weights[coding.strip()] = _weight(parameters)
        weight = weights.get("gzip", weights.get("*", 0.0))
        return weight > 0
    return False


def _weight(parameters: str) -> float:
    name, _, value = parameters.partition("=")
    if name.strip() != "q":
        return 1.0
    try:
        return float(value)
    except ValueError:
        return 0.0
