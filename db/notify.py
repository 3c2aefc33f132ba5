"""PostgreSQL's NOTIFY and LISTEN: how what one instance does reaches all the others.

A write calls `notify` inside its transaction: PostgreSQL sends the message at commit,
in commit order, to every session listening on the channel, and a rolled-back
transaction sends nothing. Each process holds one `Listener`, a connection of its own
that LISTENs and hands each message to the callbacks registered for its channel. When
that connection is lost (a database restart, a terminated backend, a network cut) it
reconnects with backoff, then tells its `on_gap` callbacks that messages sent meanwhile
were missed.

Payloads are small and carry ids only: PostgreSQL refuses one of 8,000 bytes or more,
and whoever may LISTEN on the database reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("storefront.notify")

EVENTS = "storefront_events"  # domain events for subscribers (schema/events.py)
AUTH = "storefront_auth"  # sign-in state: a token's id, or user:<id> (db/sign_ins.py)
CHANNELS = (EVENTS, AUTH)
MAX_PAYLOAD_BYTES = 7999  # PostgreSQL: "shorter than 8000 bytes"

# Reconnecting: the first retry at once-ish, then doubling up to the ceiling, so that a
# database back from a restart is heard again within a second or two and a long outage
# costs one attempt every few seconds.
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0
CONNECT_TIMEOUT_S = 10.0
# An idle connection whose peer vanished without a word (no FIN: a cut network, a
# frozen host) is found by a ping this often.
PING_EVERY_S = 10.0
PING_TIMEOUT_S = 5.0

Connect = Callable[[], Awaitable[asyncpg.Connection]]
Callback = Callable[[str], None]


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Send `payload` on `channel` when the session's transaction commits."""
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a NOTIFY payload must be under 8000 bytes, not {len(payload)}")
    await session.execute(select(func.pg_notify(channel, payload)))


def make_listener(url: str, *, application_name: str = "storefront-listen") -> Listener:
    """A Listener on the database at `url` (any `postgresql://` spelling SQLAlchemy reads).

    It needs a session of its own on the server: behind a pooler in transaction mode,
    point it at PostgreSQL itself."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connect = functools.partial(
        asyncpg.connect,
        dsn,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"application_name": application_name},
    )
    return Listener(connect)


class Listener:
    """One connection that LISTENs on `channels` for the whole process, reconnecting."""

    def __init__(self, connect: Connect, channels: Iterable[str] = CHANNELS) -> None:
        self._connect = connect
        self._callbacks: dict[str, list[Callback]] = {channel: [] for channel in channels}
        self._gap_callbacks: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._tried = asyncio.Event()  # set once the first attempt has listened or failed
        self.reconnections = 0  # after a loss; for logs and tests

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def on(self, channel: str, callback: Callback) -> Callable[[], None]:
        """Call `callback(payload)` for each message on `channel`; returns its remover."""
        callbacks = self._callbacks[channel]
        callbacks.append(callback)
        return functools.partial(_discard, callbacks, callback)

    def on_gap(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` each time the Listener listens again after not listening:
        messages sent meanwhile were missed. Returns its remover."""
        self._gap_callbacks.append(callback)
        return functools.partial(_discard, self._gap_callbacks, callback)

    def on_invalidate(
        self, channel: str, callback: Callable[[str | None], None]
    ) -> Callable[[], None]:
        """For a process-local cache of state another instance may change: `callback(key)`
        for each message on `channel`, and `callback(None)`, drop everything, after a
        gap, since an invalidation may have been missed. Returns its remover."""
        removers = (self.on(channel, callback), self.on_gap(lambda: callback(None)))

        def remove() -> None:
            for remover in removers:
                remover()

        return remove

    async def start(self, *, wait_s: float) -> None:
        """Start listening in the background; wait up to `wait_s` for the first LISTEN,
        so that a process ready to serve hears what its own mutations publish. With the
        database down it carries on without, and keeps trying."""
        assert self._task is None, "started twice"
        self._task = asyncio.create_task(self._run(), name="storefront-listen")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._tried.wait()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        missed = False  # whether messages may have gone by unheard
        while True:
            listened = False
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    conn = await self._connect()
            except Exception as exc:  # any failure to connect is retried
                if not missed:
                    log.warning("LISTEN connection failed (%s); retrying", type(exc).__name__)
            else:
                try:
                    await self._listen(conn, missed)
                except Exception as exc:  # a lost connection is reconnected
                    log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
                finally:
                    listened = self._listening.is_set()
                    self._listening.clear()
                    await _close(conn)
            self._tried.set()
            missed = True
            # Soon after a connection that listened; backing off while none does.
            delay = RETRY_FIRST_S if listened else min(delay * 2, RETRY_MAX_S)
            await asyncio.sleep(delay)

    async def _listen(self, conn: asyncpg.Connection, missed: bool) -> None:
        """LISTEN on `conn` until it is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        for channel in self._callbacks:
            await conn.add_listener(channel, self._deliver)
        self._listening.set()
        self._tried.set()
        if missed:
            self.reconnections += 1
            log.info("listening again; subscribers are told events may have been missed")
            for gap in tuple(self._gap_callbacks):
                _call(gap)
        while not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_EVERY_S):
                    await lost.wait()
                    raise ConnectionError("the server closed the connection")
            await conn.execute("SELECT 1", timeout=PING_TIMEOUT_S)
        raise ConnectionError("the connection closed")

    def _deliver(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        for callback in tuple(self._callbacks.get(channel, ())):
            _call(callback, payload)


def _call(callback: Callable[..., None], *args: object) -> None:
    # One failing callback must not keep the message from the others, nor stop listening.
    try:
        callback(*args)
    except Exception:
        log.exception("a NOTIFY callback failed")


def _discard(callbacks: list[Any], callback: object) -> None:
    with contextlib.suppress(ValueError):
        callbacks.remove(callback)


async def _close(conn: asyncpg.Connection) -> None:
    # A lost connection cannot say goodbye: abort rather than wait on the network.
    try:
        async with asyncio.timeout(1):
            await conn.close()
    except Exception:
        conn.terminate()
