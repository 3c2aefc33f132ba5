"""uvicorn's HTTP protocol as serving.py extends it, on a real socket: a response's
head and body leave in one write, and nothing is held back from a client waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from uvicorn.server import ServerState

from serving import BoundedHead

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Counted:
    """The connection's real transport, with every call that writes to it recorded."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def writelines(self, parts: Any) -> None:
        joined = b"".join(parts)
        self.writes.append(joined)
        self.transport.write(joined)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request's body, and a pause between head and body if asked."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/slow":
        await asyncio.sleep(0.5)
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def served(
    app: Any = echo, state: ServerState | None = None
) -> AsyncIterator[tuple[int, list[Counted]]]:
    config = uvicorn.Config(app, http=BoundedHead, log_config=None, lifespan="off")
    config.load()
    state = state or ServerState()
    transports: list[Counted] = []

    class Recorded(BoundedHead):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            transports.append(Counted(transport))
            super().connection_made(transports[-1])  # type: ignore[arg-type]

    server = await asyncio.get_running_loop().create_server(
        lambda: Recorded(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1], transports
    finally:
        for protocol in list(state.connections):
            protocol.shutdown()
        server.close()
        await server.wait_closed()


async def test_a_response_is_one_write_head_and_body_together() -> None:
    async with (
        served() as (port, transports),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        answers = [await client.post("/", content=b"hello %d" % n) for n in range(3)]
    assert [answer.text for answer in answers] == ["hello 0", "hello 1", "hello 2"]
    [connection] = transports
    assert len(connection.writes) == 3, connection.writes
    for n, written in enumerate(connection.writes):
        assert written.startswith(b"HTTP/1.1 200 OK\r\n"), written
        assert written.endswith(b"\r\n\r\nhello %d" % n), written


async def test_a_head_whose_body_is_slow_is_not_held_back() -> None:
    async with served() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nslow")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.4)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            assert await asyncio.wait_for(reader.readexactly(4), 2) == b"slow"
        finally:
            writer.close()


async def test_100_continue_is_sent_before_the_body_arrives() -> None:
    async with served() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            go_on = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert go_on == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"more")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            assert await asyncio.wait_for(reader.readexactly(4), 2) == b"more"
        finally:
            writer.close()


def hello(then: Callable[[Scope], None]) -> Any:
    """An app answering "hello", then calling `then` in the same turn of the loop."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
        then(scope)

    return app


async def _answered(port: int, sent: bytes) -> bytes:
    """Everything the server sends back on one connection until it closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(sent)
        return await asyncio.wait_for(reader.read(), 2)
    finally:
        writer.close()


async def test_a_response_is_not_lost_to_a_shutdown_on_its_heels() -> None:
    """uvicorn writes no body for HEAD: its head, held for one, was lost when the
    server's shutdown closed the connection in the same turn of the loop."""
    state = ServerState()

    def shut_down(scope: Scope) -> None:
        for protocol in list(state.connections):
            protocol.shutdown()  # what the server's shutdown does to a finished one

    async with served(hello(shut_down), state) as (port, _):
        head = await _answered(port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = await _answered(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert head.endswith(b"\r\n\r\n"), head
    assert got.startswith(b"HTTP/1.1 200 OK\r\n"), got
    assert got.endswith(b"hello"), got


async def test_a_pipelined_answer_comes_before_the_400_of_what_follows_it() -> None:
    """Bytes of a malformed request arriving in the same turn as an answer: the 400
    follows the answer, as it does from uvicorn's own protocol."""
    state = ServerState()

    def nonsense_follows(scope: Scope) -> None:
        if scope["path"] == "/a":
            for protocol in list(state.connections):
                protocol.data_received(b"\x00\x01 nonsense\r\n\r\n")

    async with served(hello(nonsense_follows), state) as (port, _):
        for method in (b"HEAD", b"GET"):
            answered = await _answered(
                port, method + b" /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            assert answered.startswith(b"HTTP/1.1 200 OK\r\n"), (method, answered)
            assert b"HTTP/1.1 400 " in answered, (method, answered)
