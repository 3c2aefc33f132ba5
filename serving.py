"""uvicorn with a shutdown that always ends, about when its grace period does.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets the requests in
flight finish, cancels those still running when the grace period is over, and runs
the app's shutdown (its pools closed; a cancelled statement is cancelled on the
server too, see db/read_pool.py). All of that happens on the event loop, and
uvicorn's signal handler is Python code, which only the main thread runs. A request
busy in Python that never awaits holds the loop, so uvicorn does not act on the
signal until that request is done; one stuck in C code does not even let the
handler run.

So a watchdog thread learns of the signal without the main thread: faulthandler's
handler, which is C and runs wherever the signal lands, writes to a pipe the
watchdog reads, then hands the signal on to uvicorn's. Once the grace period is over
the watchdog checks every PROBE_S that the loop still runs callbacks. When it does
not, the watchdog signals the main thread, whose handler (uvicorn's, extended here)
raises ShutdownOverdue in whatever Python code holds the loop, and shutdown carries
on. A main thread deaf to that for DEAF_S (in C code that released the GIL), or a
shutdown still running GIVE_UP_S after the grace period, gets `abandon` (stop the
embedded PostgreSQL) and `os._exit`, not SIGKILL. C code that holds the GIL (a
runaway regular expression) stops every thread, this one too, until it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, cast

import prometheus_client
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from schema import metrics as api_metrics
from schema.middleware import new_request_id
from schema.observe import mark_stopping
from schema.transport import encode, error_body

log = logging.getLogger("storefront.serving")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A free event loop runs a callback within microseconds; one that has not in this
# long is held by a request.
PROBE_S = 0.2
# How long a main thread may ignore the watchdog's signal before it is given up on.
DEAF_S = 1.0
# How long past the grace period the app's own shutdown (closing its pools) may take.
GIVE_UP_S = 5.0


def serve(
    app: Starlette,
    sock: socket.socket,
    *,
    log_level: str,
    grace_s: int,
    max_message_bytes: int,
    abandon: Callable[[], None],
) -> None:
    """Serve `app` on `sock` until SIGTERM or Ctrl-C, then shut down within `grace_s`
    (Server). `max_message_bytes`: the app refuses a longer WebSocket message (code
    4413); far larger frames are not even buffered."""
    config = uvicorn.Config(
        app,
        log_level=log_level.lower(),
        loop="uvloop",
        # Logging is logs.py's: uvicorn's records go to the root logger's handler, in
        # the process's format. Its access line is replaced by schema/observe.py's,
        # which knows the request id, the operation and the SQL it ran.
        log_config=None,
        access_log=False,
        lifespan="on",
        http=BoundedHead,
        # X-Forwarded-For is read by the app alone, as STOREFRONT_FORWARDED_ALLOW_IPS says
        # (uvicorn's own reading would trust 127.0.0.1, or its FORWARDED_ALLOW_IPS).
        proxy_headers=False,
        # No `server: uvicorn` on every response: it tells an attacker what runs here,
        # and uvicorn checks each header it writes against two regular expressions.
        server_header=False,
        timeout_graceful_shutdown=grace_s,
        ws_max_size=max_message_bytes + 64 * 1024,
    )
    # Requests cancelled at the end of the grace period are then answered by the app
    # itself (schema/observe.py), naming the request, instead of by uvicorn's bare 500.
    server = Server(
        config, grace_s=grace_s, abandon=abandon, on_stop=lambda: mark_stopping(app.state)
    )
    settle_garbage_collector()
    try:
        server.run(sockets=[sock])
    except ShutdownOverdue:
        raise SystemExit(128 + (server.stopped_by or signal.SIGTERM)) from None


# The most a request line and headers may take together (nginx's default for one
# header line is 8 KiB, and browsers send a few KiB in all), and the longest a new
# connection, or a request once its first byte is in, may take to send them.
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 10.0
HEAD_LATE = f"The request's headers did not arrive within {HEAD_TIMEOUT_S:g} s"
HEAD_TOO_LARGE = f"The request's headers are larger than {MAX_HEAD_BYTES} bytes"


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol, with bounds on a request's line and headers (its
    head). httptools keeps a header value until its line ends, however long, so one
    header of 200 MB held 200 MB of the process: a head past MAX_HEAD_BYTES gets 431.
    And uvicorn gives a connection for ever to send its first request's head, or to
    finish a head once begun: connections that trickle a header, or send nothing,
    could take every file descriptor. A head not complete within HEAD_TIMEOUT_S gets
    408. Both close the connection."""

    # Bytes received since the current request's head began; -1 while in its body.
    head_bytes = 0
    refused = False
    head_timer: asyncio.TimerHandle | None = None
    # The transports of the responses not yet begun or whose head is held (HeadHeld),
    # oldest first: more than one only while requests are pipelined.
    held: tuple[HeadHeld, ...] = ()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._time_head()  # the first request's head: the connection may send nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._untime_head()
        super().connection_lost(exc)

    # The callbacks below run for every request: each calls its base by name, which
    # costs less than super().

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.head_bytes >= 0:
            self.head_bytes += len(data)
        HttpToolsProtocol.data_received(self, data)
        if self.head_bytes > MAX_HEAD_BYTES:
            self._refuse(431, HEAD_TOO_LARGE)
        elif self.head_bytes > 0 and self.head_timer is None and not self.refused:
            # A head begun and not finished: timed from here. One that arrives whole
            # (every honest client's, nearly) costs no timer.
            self._time_head()

    def on_headers_complete(self) -> None:
        if self.head_timer is not None:
            self._untime_head()
        # The bytes counted hold the whole head, and maybe some body after it: only then
        # is the head itself measured.
        over = self.head_bytes > MAX_HEAD_BYTES
        self.head_bytes = -1
        if over:
            size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
            if size > MAX_HEAD_BYTES:
                self._refuse(431, HEAD_TOO_LARGE)
                return
        cycle = self.cycle
        HttpToolsProtocol.on_headers_complete(self)
        # A new request's cycle, its task not yet started: it writes through a HeadHeld.
        # Not for HEAD: uvicorn writes no body after the head, so the head would be
        # held past the response's end (and lost, were the connection closed then).
        if self.cycle is not cycle and self.cycle is not None and self.scope["method"] != "HEAD":
            head_held = HeadHeld(self.transport, self.loop)
            self.held = (*(held for held in self.held if held.pending), head_held)
            # It forwards every other attribute to the transport (`__getattr__`).
            self.cycle.transport = cast(asyncio.Transport, head_held)

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            HttpToolsProtocol.on_body(self, body)

    def on_message_complete(self) -> None:
        if not self.refused:
            HttpToolsProtocol.on_message_complete(self)
        self.head_bytes = 0

    def handle_websocket_upgrade(self) -> None:
        if not self.refused:
            super().handle_websocket_upgrade()

    def _time_head(self) -> None:
        self.head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._refuse, 408, HEAD_LATE)

    def _untime_head(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def send_400_response(self, msg: str) -> None:
        self._write_held()
        super().send_400_response(msg)

    def shutdown(self) -> None:
        self._write_held()
        super().shutdown()

    def _write_held(self) -> None:
        # Whatever this connection writes or closes itself goes after the responses
        # before it.
        for held in self.held:
            held.write_held()

    def _refuse(self, status: int, message: str) -> None:
        self._untime_head()
        if self.refused or self.transport.is_closing():
            return
        self._write_held()
        self.refused = True
        self.logger.warning("Refused a request: %s.", message)
        body = encode(error_body(message, "BAD_USER_INPUT"))
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + new_request_id().encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join([*head, body]))
        self.transport.close()


class HeadHeld:
    """The connection's transport as one request's cycle writes to it: the response's
    head (status line and headers, which uvicorn writes on `http.response.start`) is
    held until the body's first write, and both go out in one send (one buffer: copying
    the body costs far less than a system call).

    Two writes cost two `send` system calls, each about as dear as the rest of uvicorn's
    work on a small answer (measured: 15 % of the server's CPU on a one-post query). A
    head whose body is slow to follow is written when the loop next turns, so nothing
    waits on it. "100 Continue" is never held: the client waits for it.
    """

    __slots__ = ("_head", "_loop", "_started", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            # One buffer: uvloop sends it at once, where `writelines` queues its
            # buffers for the end of the loop's turn (measured dearer on large answers).
            self.transport.write(head + data)
        elif self._started or data.startswith(CONTINUE):
            self.transport.write(data)
        else:
            self._started = True
            self._head = data
            self._loop.call_soon(self.write_held)

    def write_held(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self.transport.write(head)

    @property
    def pending(self) -> bool:
        """Whether its response has not begun, or its head is held."""
        return not self._started or self._head is not None

    def close(self) -> None:
        self.write_held()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        # is_closing, get_extra_info and the rest, as the transport has them.
        return getattr(self.transport, name)


CONTINUE = b"HTTP/1.1 100 "


def clear_metrics(folder: Path) -> None:
    """Empty prometheus_client's multiprocess folder of an earlier run's files, as its
    documentation asks: a gauge summed over live processes would otherwise go on
    counting a process that is gone, and a counter would start from its old total."""
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


def serve_metrics(host: str, port: int, multiprocess_dir: Path | None) -> tuple[str, int]:
    """/metrics on a port of its own, from a thread of this process (the one that
    starts the workers, when there are several: it reads their files). Returns the
    address it listens on (`port` 0 picks a free one)."""
    server, _ = prometheus_client.start_http_server(
        port, addr=host, registry=api_metrics.registry(multiprocess_dir)
    )
    bound_host, bound_port = server.server_address[:2]
    return str(bound_host), int(bound_port)


def settle_garbage_collector() -> None:
    """Keep the collector off the long-lived heap (schema, SQLAlchemy, modules).

    Freezing what start-up built stops every full collection from walking it, and a
    larger first threshold runs the young collection once per few requests rather
    than several times in each: both showed as tail latency at concurrency 1. Before
    a fork, it also keeps worker processes sharing those pages (workers.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


class ShutdownOverdue(KeyboardInterrupt):
    """Raised in the main thread's running code when the grace period is over and that
    code still holds the event loop. A KeyboardInterrupt, so that asyncio lets it
    through rather than keeping it as a task's result when it lands outside a request
    (a request's own failure uvicorn answers with a 500 and carries on)."""


class Server(uvicorn.Server):
    """uvicorn's Server, its grace period counted from the signal and enforced."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        grace_s: float,
        abandon: Callable[[], None],
        on_stop: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_stop`: called at the first stop signal, before uvicorn acts on it."""
        super().__init__(config)
        self.grace_s = grace_s
        self._on_stop = on_stop
        self.stopped_by: int | None = None  # the first signal the main thread handled
        self._deadline = math.inf
        self._watchdog = Watchdog(grace_s, abandon)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        self._watchdog.start()
        try:
            super().run(sockets=sockets)
        finally:
            self._watchdog.stop()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._watchdog.loop = asyncio.get_running_loop()
        try:
            await super().serve(sockets=sockets)
        finally:
            # uvicorn has put back the handlers it replaced; faulthandler puts back the
            # one it chained to, the same C handler (Python's).
            self._watchdog.stop_listening()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # After uvicorn's handlers are in place (at startup, uvicorn's Python handler
        # is enough: no request holds the loop yet).
        self._watchdog.listen()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog.overdue:
            raise ShutdownOverdue
        if self.stopped_by is None:
            self.stopped_by = sig
            self._on_stop()
            self._deadline = time.monotonic() + self.grace_s
            self._watchdog.signalled()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn counts its grace period from when the loop gets round to shutting
        # down, which a blocked loop delays: count it from the signal instead.
        if math.isfinite(self._deadline):
            # At least a moment: with none, uvicorn cancels before it has even looked.
            remaining = max(0.1, self._deadline - time.monotonic())
            # uvicorn's annotation says int; it is handed to asyncio.wait_for as is.
            self.config.timeout_graceful_shutdown = remaining  # type: ignore[assignment]
        await super().shutdown(sockets=sockets)


class Watchdog:
    """A thread that waits for a stop signal, then ends the process if shutdown
    overruns its grace period."""

    def __init__(self, grace_s: float, abandon: Callable[[], None]) -> None:
        self.grace_s = grace_s
        self.abandon = abandon
        self.loop: asyncio.AbstractEventLoop | None = None
        self.overdue = False
        self._done = threading.Event()
        self._listening = False
        self._read, self._write = os.pipe()
        # A full pipe drops what faulthandler writes; it never blocks a signal handler.
        os.set_blocking(self._write, False)
        self._thread = threading.Thread(target=self._run, name="shutdown-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def listen(self) -> None:
        """From now, learn of SIGINT and SIGTERM whatever the main thread is doing."""
        for signum in SIGNALS:
            faulthandler.register(signum, file=self._write, all_threads=False, chain=True)
        self._listening = True

    def stop_listening(self) -> None:
        if self._listening:
            for signum in SIGNALS:
                faulthandler.unregister(signum)
            self._listening = False

    def signalled(self) -> None:
        """A stop signal reached the main thread's handler."""
        self._wake()

    def stop(self) -> None:
        """Serving is over (the event loop has closed): nothing left to watch."""
        self.stop_listening()
        self._done.set()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"\n")

    def _run(self) -> None:
        os.read(self._read, 1 << 16)  # a signal, or stop()
        if not self._done.wait(self.grace_s):
            self._enforce()

    def _enforce(self) -> None:
        give_up = time.monotonic() + GIVE_UP_S
        deaf_since: float | None = None
        while time.monotonic() < give_up:
            if self._loop_answers():
                deaf_since = None
            elif deaf_since is None or time.monotonic() - deaf_since < DEAF_S:
                if deaf_since is None:
                    deaf_since = time.monotonic()
                    log.error("shutdown: grace period over, a request holds the event loop")
                self._interrupt_main()
            else:
                break
            if self._done.wait(PROBE_S):
                return
        log.critical("shutdown: the main thread does not stop; exiting without it")
        faulthandler.dump_traceback(all_threads=True)  # where it is stuck
        try:
            self.abandon()
        finally:
            os._exit(128 + signal.SIGTERM)

    def _interrupt_main(self) -> None:
        self.overdue = True
        main = threading.main_thread().ident
        assert main is not None
        # A real signal, not _thread.interrupt_main: it also cuts short a blocking call
        # such as time.sleep.
        signal.pthread_kill(main, signal.SIGINT)

    def _loop_answers(self) -> bool:
        answered = threading.Event()
        try:
            if self.loop is None:
                return True
            self.loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop is closed: serving is over
            return True
        return answered.wait(PROBE_S)
