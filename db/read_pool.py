"""The read pool: asyncpg connections, handed to waiters first come, first served.

A read borrows a connection for one statement, in autocommit, and gives it back
as it was, so a pool for reads needs no reset, ping or transaction handling.
asyncpg's own pool, which has them, cost about 20 µs of Python per checkout here
(a proxy per checkout, a queue, a task to shield each release): a sixth of a
post-by-id request's CPU. Here a checkout is a list operation when a connection
is free; a freed connection goes straight to the longest waiter.

One module, past the 400 lines the others keep to: a request's `Share`, and each
`Borrowed` connection, give connections back through the pool's own accounting (the
places left, the waiters, the lent count), so that a freed connection reaches the
longest waiter and a dropped one frees its place. Split apart, that accounting would
be a public interface for one caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

import asyncpg

from db import telemetry
from db.tally import child

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PoolClosedError(asyncpg.InterfaceError):  # type: ignore[misc]
    pass


class PoolTimeoutError(TimeoutError):
    """No connection came free within the pool's wait: the database is saturated."""


class Lender(Protocol):
    """What lends connections to `Share` and `Borrowed`: a `ReadPool`, or a replica's
    pool that falls back to the primary's (db/replicas.py)."""

    size: int
    begin: str | None  # ReadPool's: what opens each borrow's transaction, if anything

    async def acquire(self) -> asyncpg.Connection: ...
    def release(self, conn: asyncpg.Connection) -> None: ...
    def discard(self, conn: asyncpg.Connection) -> None: ...
    def share(self) -> Share: ...
    def connection(self) -> Borrowed: ...


# The pool's label in the metrics (the write pool, SQLAlchemy's, is "write").
POOL = telemetry.READ_POOL
# How long after a checkout timed out the pool still reports itself saturated.
SATURATION_MEMORY_S = 2.0


class ReadPool:
    """At most `size` connections, opened on first need; a connection idle for
    `idle_timeout` seconds is closed (an idle service holds none).

    `begin`: SQL that opens a transaction around each borrow (ended by COMMIT when the
    connection is given back), for a pooler that keeps a session's settings only as
    long as a transaction (db/engine.py, Pooler). None: each read is its own.
    """

    label = POOL  # in the metrics

    def __init__(
        self,
        connect: Connect,
        *,
        size: int,
        wait_timeout: float,
        idle_timeout: float = 300.0,
        begin: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a read pool needs at least one connection")
        self.size = size
        self.begin = begin
        self.idle_timeout = idle_timeout
        self.wait_timeout = wait_timeout
        self._timed_out_at = float("-inf")
        self._connect = connect
        self._idle: deque[tuple[asyncpg.Connection, float]] = deque()  # newest on the right
        # A waiter is given a connection, or None: a free place to open one in.
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._places = size  # connections that may still be opened
        self._pruning: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        telemetry.watch_pool(self)
        self._lent = 0  # connections acquired and not yet given back
        self._all_back: asyncio.Event | None = None  # set when _lent drops to 0, once closed

    async def acquire(self) -> asyncpg.Connection:
        """A connection for the caller alone, until it is given back with `release`."""
        if self._closed:
            raise PoolClosedError("the read pool is closed")
        while self._idle:
            # The most recently used: the others can age out when load drops.
            conn, _ = self._idle.pop()
            if not conn.is_closed():
                self._lent += 1
                if telemetry.metrics is not None:
                    telemetry.metrics.pool_waits.append(telemetry.IDLE_CONNECTION)
                return conn
            self._places += 1
        if self._places > 0:
            self._places -= 1
            return await self._open()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        # The wait fails the waiter, not the task: a read may be awaited inside another
        # coroutine's step (schema/executor/eager.py), where a task-level timeout would
        # cancel the whole request instead of this one read.
        expiry = loop.call_later(self.wait_timeout, self._expire, waiter)
        started = loop.time()
        span = None
        if telemetry.tracer is not None and telemetry.recording():
            span = telemetry.tracer.start_span("pool wait")
        try:
            handed = await waiter
        except PoolTimeoutError:
            self._timed_out_at = loop.time()
            if telemetry.metrics is not None:
                child(telemetry.metrics.pool_timeouts, POOL).inc()
                self._waited(self._timed_out_at - started)
            raise
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._hand_on(waiter.result())  # given just as the caller gave up
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        finally:
            expiry.cancel()
            if span is not None:
                span.end()
        if handed is None:
            return await self._open(waited_s=loop.time() - started)
        self._lent += 1
        if telemetry.metrics is not None:
            self._waited(loop.time() - started)
        return handed

    def _waited(self, seconds: float) -> None:
        """Into the metrics (when on): how long a checkout waited."""
        found = telemetry.metrics
        assert found is not None
        found.pool_waits.append((telemetry.READ_LABELS, seconds))

    @property
    def lent(self) -> int:
        return self._lent

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def closed(self) -> bool:
        return self._closed

    def _expire(self, waiter: asyncio.Future[asyncpg.Connection | None]) -> None:
        if not waiter.done():
            self._waiters.remove(waiter)
            waiter.set_exception(
                PoolTimeoutError(f"no database connection came free within {self.wait_timeout:g} s")
            )

    @property
    def saturated(self) -> bool:
        """Whether a checkout timed out lately, or callers are queued for a connection."""
        recent = asyncio.get_running_loop().time() - self._timed_out_at < SATURATION_MEMORY_S
        return recent or len(self._waiters) > self.size

    def release(self, conn: asyncpg.Connection) -> None:
        """Give back a connection from `acquire`, as it is (closed if it broke)."""
        self._given_back()
        if conn.is_closed():
            self._hand_on(None)
        elif self._closed:
            self._close_later(conn)
        else:
            self._hand_on(conn)

    def discard(self, conn: asyncpg.Connection) -> None:
        """Give back a connection whose statement was cut off midway (its task was
        cancelled): it is closed in the background, which first has the server cancel
        the statement, and its place is freed once it is closed."""
        self._given_back()
        self._close_later(conn).add_done_callback(lambda _: self._hand_on(None))

    def _given_back(self) -> None:
        self._lent -= 1
        if self._lent == 0 and self._all_back is not None:
            self._all_back.set()

    def drop_idle(self) -> None:
        """Close the idle connections: their server went away (db/replicas.py)."""
        while self._idle:
            self._close_later(self._idle.pop()[0])
            self._places += 1

    def connection(self) -> Borrowed:
        """`async with pool.connection() as conn`: acquired, and released however the
        block ends (closed first if it ended in a way that leaves the connection in doubt)."""
        return Borrowed(self)

    def share(self) -> Share:
        """A request's share: at most half the pool's connections at once."""
        return Share(self, max(1, self.size // 2))

    async def close(self, *, wait_for_lent_s: float = 0.0) -> None:
        """Refuse new checkouts, close idle connections now and the rest as they return.

        Waits up to `wait_for_lent_s` for lent connections to come back: at shutdown
        the requests holding them have just been cancelled, and give them back (their
        statements cancelled on the server) as they unwind.
        """
        self._closed = True
        if self._pruning is not None:
            self._pruning.cancel()
        while self._waiters:
            self._waiters.popleft().set_exception(PoolClosedError("the read pool is closed"))
        while self._idle:
            self._close_later(self._idle.pop()[0])
        if self._lent > 0 and wait_for_lent_s > 0:
            self._all_back = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_for_lent_s):
                    await self._all_back.wait()
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _open(self, waited_s: float = 0.0) -> asyncpg.Connection:
        """A new connection in a place already taken from `_places`."""
        try:
            conn = await self._connect()
        except BaseException:
            self._hand_on(None)
            raise
        self._lent += 1
        if telemetry.metrics is not None:
            self._waited(waited_s)
        return conn

    def _hand_on(self, conn: asyncpg.Connection | None) -> None:
        """A connection (or, for None, a free place) to the longest waiter, else kept."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            self._places += 1
            return
        loop = asyncio.get_running_loop()
        self._idle.append((conn, loop.time()))
        if self._pruning is None:
            self._pruning = loop.call_later(self.idle_timeout, self._prune)

    def _prune(self) -> None:
        self._pruning = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self.idle_timeout
        while self._idle and self._idle[0][1] <= cutoff:
            self._close_later(self._idle.popleft()[0])
            self._places += 1
        if self._idle:
            self._pruning = loop.call_at(self._idle[0][1] + self.idle_timeout, self._prune)

    def _close_later(self, conn: asyncpg.Connection) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(_close(conn))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task


class Share:
    """One request's share of a pool: at most `limit` of its connections at once, so a
    request that reads many things together (twenty aliased searches) leaves the rest of
    the pool to other requests. Beyond its share a request waits for its own reads."""

    __slots__ = ("_free", "_waiters", "pool")

    def __init__(self, pool: Lender, limit: int) -> None:
        self.pool = pool
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    def connection(self) -> SharedBorrow:
        return SharedBorrow(self)

    async def _take(self) -> None:
        # A slot, first come first served; taking a free one costs no await.
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give()  # handed over just as the caller gave up
            else:
                self._waiters.remove(waiter)
            raise

    def _give(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class SharedBorrow:
    """`Borrowed`, within a request's `Share`."""

    __slots__ = ("borrowed", "share")

    def __init__(self, share: Share) -> None:
        self.share = share
        self.borrowed = Borrowed(share.pool)

    async def __aenter__(self) -> asyncpg.Connection:
        share = self.share
        if share._free > 0 and not share._waiters:
            share._free -= 1
        else:
            await share._take()
        try:
            return await self.borrowed.__aenter__()
        except BaseException:
            share._give()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.borrowed.__aexit__(kind, exc, tb)
        finally:
            self.share._give()


class Borrowed:
    """A connection borrowed for an `async with` block (a class, not a generator-based
    context manager: one is entered for every statement a request runs)."""

    __slots__ = ("conn", "pool")

    def __init__(self, pool: Lender) -> None:
        self.pool = pool
        self.conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        conn = await self.pool.acquire()
        if self.pool.begin is not None:
            try:
                await conn.execute(self.pool.begin)
            except BaseException as exc:
                self._give_up(conn, exc)
                raise
        self.conn = conn
        return conn

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self.conn = self.conn, None
        assert conn is not None
        if self.pool.begin is not None and (exc is None or not leaves_in_doubt(exc)):
            try:
                # After a failed statement the transaction is aborted, and COMMIT
                # rolls it back: no error, the connection ready for the next borrow.
                await conn.execute("COMMIT")
            except BaseException as ended:
                self._give_up(conn, ended)
                raise
        self._give_back(conn, exc)

    def _give_up(self, conn: asyncpg.Connection, exc: BaseException) -> None:
        """BEGIN or COMMIT failed: the transaction's state is unknown, so the connection
        is not lent again (cancelled, it is closed in the background, as any)."""
        if isinstance(exc, Exception):
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()
        self._give_back(conn, exc if leaves_in_doubt(exc) else None)

    def _give_back(self, conn: asyncpg.Connection, exc: BaseException | None) -> None:
        if exc is None or not leaves_in_doubt(exc):
            self.pool.release(conn)
        elif isinstance(exc, DROPPED):
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()
            self.pool.release(conn)
        else:
            # Cancelled (a timeout, a client gone, shutdown): closing the socket alone
            # would leave the statement running on the server until statement_timeout.
            self.pool.discard(conn)


# What a connection that died in the pool (server restart, idle cut-off, a
# terminated backend) raises on its next statement; a read that meets the server's
# goodbye before asyncpg has read it sees an InternalClientError.
DROPPED = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
)


def leaves_in_doubt(exc: BaseException) -> bool:
    """Whether a connection is unfit for the next statement after `exc`: it dropped, or
    its statement was cancelled midway (it may still be running on the server). An
    error the server reported (a PostgresError) leaves it ready."""
    return isinstance(exc, DROPPED) or not isinstance(exc, Exception)


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()
