"""gzip for large answers when the request accepts it (API.md, "Transport").

Why not Starlette's GZipMiddleware: it costs every request, small ones included, and
whether or not the client accepts gzip (it builds two header views and re-normalises
its list of excluded media types per request); on bench/compression.py that is about
a tenth of what the whole middleware stack and endpoint of a tiny read cost. Here a
small answer costs one closure and a length check; compression starts at the first
byte past `minimum_size`.

Only a response whose whole body comes in one message is compressed (every answer of
the view, GraphiQL's page and the health checks do); a streamed one passes as it is.
"""

from __future__ import annotations

import asyncio
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
            encoded = any(name.lower() == b"content-encoding" for name, _ in headers)
            if not encoded:
                # Large answers depend on Accept-Encoding, also when sent as they are.
                headers.append((b"vary", b"Accept-Encoding"))
            if not encoded and accepts_gzip(scope["headers"]):
                compressed = await self._compress(body)
                if len(compressed) < len(body):
                    body = compressed
                    headers = [h for h in headers if h[0].lower() != b"content-length"]
                    headers += [
                        (b"content-encoding", b"gzip"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    message = {**message, "body": body}
            await send({**start, "headers": headers})
            await send(message)

        await self.app(scope, receive, send_compressed)

    async def _compress(self, body: bytes) -> bytes:
        if len(body) >= THREAD_MINIMUM_BYTES:
            return await asyncio.to_thread(_gzip, body, self.level)
        return _gzip(body, self.level)


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
