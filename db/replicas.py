"""Read replicas: which pool a request's reads use, and what is known of each replica.

A request without a consistency position reads from the next replica in turn that is
up and not lagging past `max_lag_s`; with one (the primary's WAL position after a
mutation, see `primary_position`), only from a replica known to have replayed that far,
else from the primary. Nothing ever waits for a replica to catch up.

What is known of a replica comes from a watcher (one task per process): every
`interval_s` it samples the primary's WAL position and asks each replica how far it
has replayed. A replica's lag is how long ago the primary first wrote something the
replica has not replayed yet, measured on this process's clock from those samples
(`now() - pg_last_xact_replay_timestamp()` would compare two servers' clocks, and
grows while an idle primary writes nothing). Replay positions only move forward, so
the highest one seen stays true; a request whose position is past it may check once
more (`RECHECK_S` apart at most, concurrent checks shared).

A replica that cannot be reached is marked down at once (by a read that fails to
connect or loses its connection, or by the watcher), and its reads go to the primary
until the watcher reaches it again: a replica failure is never an error while the
primary answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections import deque
from collections.abc import Sequence

import asyncpg
from sqlalchemy.engine import make_url

from db.read_pool import Borrowed, Lender, PoolClosedError, PoolTimeoutError, ReadPool, Share
from db.statement_counter import record

log = logging.getLogger("storefront.replicas")

# Defaults of STOREFRONT_REPLICA_MAX_LAG_MS (settings.py takes it from here).
MAX_LAG_MS = 5000
# How often the watcher samples the primary and each replica.
INTERVAL_S = 1.0
# A request whose position is past what a replica was last seen to have replayed asks it
# again only if it was last asked longer ago than this; otherwise it reads the primary.
RECHECK_S = 0.005
# The watcher's check: one that takes longer counts as a failure (the replica is
# overloaded or unreachable).
CHECK_TIMEOUT_S = 2.0
# A request's own check: past this it reads from the primary, and leaves judging the
# replica to the watcher. A check is one round trip on a pooled connection (the watcher
# keeps one open); this bounds the odd one that must connect first.
REQUEST_CHECK_TIMEOUT_S = 0.05

PRIMARY_POSITION = "SELECT pg_current_wal_insert_lsn()"
# NULL on a server that is not a standby: it replays nothing and is not a replica.
REPLAYED = "SELECT pg_last_wal_replay_lsn()"

_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def format_lsn(lsn: int) -> str:
    """A WAL position as PostgreSQL writes it: `16/B374D848`."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int | None:
    """The WAL position `text` spells as PostgreSQL does, or None if it is not one."""
    found = _LSN.fullmatch(text)
    return None if found is None else int(found[1], 16) << 32 | int(found[2], 16)


async def primary_position(primary: Lender | Share) -> int:
    """The primary's WAL insert position. Read after a commit has returned, it is at or
    past the end of that commit's record, so a replica that has replayed this far sees
    the commit (whatever `synchronous_commit` says; the write position might not be)."""
    async with primary.connection() as conn:
        record(PRIMARY_POSITION)
        lsn: int = await conn.fetchval(PRIMARY_POSITION)
    return lsn


def replica_name(url: str) -> str:
    """How logs name a replica: host:port/database, never its password."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


class Replica:
    """One replica's pool and what this process knows of it."""

    def __init__(self, name: str, pool: ReadPool, primary: ReadPool) -> None:
        self.name = name  # host:port/database, for logs (never the password)
        self.pool = pool
        # Down until the watcher's first check: a replica lagging by hours at start-up
        # must not serve a single read.
        self.up = False
        self.seen = False  # whether it has been checked once: its first failure is logged
        self.replayed = 0  # the highest replay position seen
        self.lag_s = 0.0
        self.checked_at = float("-inf")
        self._checking: asyncio.Future[bool] | None = None
        self.reads = ReplicaReads(self, primary)

    def failed(self, why: str) -> None:
        if self.up or not self.seen:
            log.warning("replica %s: %s; reading from the primary until it answers", self.name, why)
        self.up, self.seen = False, True
        # Its idle connections went with it; each would fail (and be retried) once more.
        self.pool.drop_idle()

    async def check(self, within_s: float = CHECK_TIMEOUT_S) -> bool:
        """Ask how far the replica has replayed; False if it did not answer (within
        `within_s`: past CHECK_TIMEOUT_S it is marked down, before only not used now)."""
        if self._checking is not None:
            return await asyncio.shield(self._checking)
        loop = asyncio.get_running_loop()
        self._checking = loop.create_future()
        self.checked_at = loop.time()
        answered = False
        try:
            answered = await self._ask(within_s)
        finally:
            self._checking.set_result(answered)
            self._checking = None
        return answered

    async def _ask(self, within_s: float) -> bool:
        try:
            async with asyncio.timeout(within_s), self.pool.connection() as conn:
                record(REPLAYED)
                replayed: int | None = await conn.fetchval(REPLAYED)
        except (PoolTimeoutError, PoolClosedError):
            return False  # busy or shutting down, not down
        except TimeoutError:
            if within_s < CHECK_TIMEOUT_S:
                return False
            self.failed(f"no answer within {within_s:g} s")
            return False
        except Exception as exc:
            self.failed(f"unreachable ({type(exc).__name__})")
            return False
        if replayed is None:
            self.failed("not a standby (pg_last_wal_replay_lsn() is NULL)")
            return False
        self.replayed = max(self.replayed, replayed)
        if not self.up:
            log.info("replica %s answers; reading from it", self.name)
            self.up, self.seen = True, True
        return True


class ReplicaReads:
    """A replica's pool as a request borrows from it (db/read_pool.py's Lender): while
    the replica is down, or when a connection to it cannot be made, the primary's
    connections are lent instead, and given back to the primary."""

    def __init__(self, replica: Replica, primary: ReadPool) -> None:
        self.replica = replica
        self.primary = primary
        self.size = replica.pool.size
        # The primary's pool and the replicas' are made alike (one pooler setting for
        # all: app.build_replicas), so a borrow opens the same way from either.
        self.begin = replica.pool.begin
        self._from_primary: set[asyncpg.Connection] = set()

    async def acquire(self) -> asyncpg.Connection:
        replica = self.replica
        if replica.up:
            try:
                return await replica.pool.acquire()
            except (PoolTimeoutError, PoolClosedError):
                raise  # saturated or shutting down: the primary would not fare better
            except Exception as exc:
                replica.failed(f"no connection ({type(exc).__name__})")
        conn = await self.primary.acquire()
        self._from_primary.add(conn)
        return conn

    def release(self, conn: asyncpg.Connection) -> None:
        if conn in self._from_primary:
            self._from_primary.discard(conn)
            self.primary.release(conn)
            return
        if conn.is_closed():
            # Lost midway (db/read_pool.py, DROPPED): the read is retried once, and the
            # retry must not meet the next dead connection of a replica that went away.
            self.replica.failed("a connection dropped")
        self.replica.pool.release(conn)

    def discard(self, conn: asyncpg.Connection) -> None:
        if conn in self._from_primary:
            self._from_primary.discard(conn)
            self.primary.discard(conn)
        else:
            self.replica.pool.discard(conn)

    def share(self) -> Share:
        return Share(self, max(1, self.size // 2))

    def connection(self) -> Borrowed:
        return Borrowed(self)


class Replicas:
    """The replicas of one primary; `reads_for` picks a request's pool."""

    def __init__(
        self,
        primary: ReadPool,
        replicas: Sequence[tuple[str, ReadPool]],
        *,
        max_lag_s: float = MAX_LAG_MS / 1000,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.primary = primary
        self.replicas = [Replica(name, pool, primary) for name, pool in replicas]
        self.max_lag_s = max_lag_s
        self.interval_s = interval_s
        self._turn = itertools.cycle(range(len(self.replicas)))
        # (when, the primary's position then), oldest first, over the last max_lag_s and a bit.
        self._samples: deque[tuple[float, int]] = deque()
        self._watcher: asyncio.Task[None] | None = None
        self._primary_answered = True  # so that its first failure is logged, once

    def start(self) -> None:
        """Start watching (the first check runs at once, in the background)."""
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def close(self, *, wait_for_lent_s: float = 0.0) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for replica in self.replicas:
            await replica.pool.close(wait_for_lent_s=wait_for_lent_s)

    async def reads_for(self, position: int | None) -> Lender:
        """Where a request reads: a replica in turn that is up and not lagging (and, with
        `position`, has replayed that far), else the primary."""
        usable = self._usable()
        if not usable:
            return self.primary
        if position is None:
            return usable[0].reads
        for replica in usable:
            if replica.replayed >= position:
                return replica.reads
        first = usable[0]
        now = asyncio.get_running_loop().time()
        fresh = now - first.checked_at >= RECHECK_S and await first.check(REQUEST_CHECK_TIMEOUT_S)
        return first.reads if fresh and first.replayed >= position else self.primary

    def usable(self) -> int:
        """How many replicas may serve reads now (up, and not lagging past the limit)."""
        return sum(self._serves(replica) for replica in self.replicas)

    def _serves(self, replica: Replica) -> bool:
        return replica.up and replica.lag_s <= self.max_lag_s

    def _usable(self) -> list[Replica]:
        """The replicas that may serve, starting with the next one's turn."""
        if not self.replicas:
            return []
        start = next(self._turn)
        turn = self.replicas[start:] + self.replicas[:start]
        return [replica for replica in turn if self._serves(replica)]

    async def check(self) -> None:
        """Sample the primary, then ask every replica how far it has replayed."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                position = await primary_position(self.primary)
            # Timed after the answer: the primary had written this much by then.
            self._samples.append((loop.time(), position))
            sampled = True
        except Exception as exc:
            # Lags stay as they were: the primary is the one in trouble.
            if self._primary_answered:
                log.warning("replicas: no position from the primary (%s)", type(exc).__name__)
            sampled = False
        self._primary_answered = sampled
        await asyncio.gather(*(replica.check() for replica in self.replicas))
        now = loop.time()
        horizon = now - self.max_lag_s - 2 * self.interval_s
        while len(self._samples) > 1 and self._samples[0][0] < horizon:
            self._samples.popleft()
        if sampled:
            for replica in self.replicas:
                replica.lag_s = self._lag(replica.replayed, now)

    def _lag(self, replayed: int, now: float) -> float:
        """How long ago the primary was first seen past `replayed` (0: caught up)."""
        for when, position in self._samples:
            if position > replayed:
                return now - when
        return 0.0

    async def _watch(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("replicas: check failed")
            await asyncio.sleep(self.interval_s)
