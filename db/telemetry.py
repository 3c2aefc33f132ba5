"""What the reads tell an operator, when asked: a span per batch, pool use, statement timings.

Everything here is off until the app switches it on (app.py, from settings): `tracer`
and `metrics` stay None, and the request path's only cost is reading them. Reads run
through `db.engine.read` (a batch borrows a connection, runs its statement, gives the
connection back) and `db.statements.fetch` (the statement itself), so both of the
service's executors are observed in those two places.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.trace import Span, SpanKind, Tracer, get_current_span
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection, event
from sqlalchemy.exc import TimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection

from db.tally import Pending, Tally, child

# None: no tracing (no span is made, not even a non-recording one).
tracer: Tracer | None = None
metrics: DbMetrics | None = None
# The hot path's counts and observations, on their way to `metrics` (db/tally.py).
tally = Tally()

# Statement and wait times are mostly under a few milliseconds.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
KEY_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


@dataclass(frozen=True, slots=True)
class DbMetrics:
    statement_seconds: Histogram
    batch_keys: Histogram
    pool_in_use: Gauge
    pool_waiting: Gauge
    pool_wait_seconds: Histogram
    pool_timeouts: Counter
    # What the request path appends to (db/tally.py): ((label values), value).
    statement_times: Pending
    batch_sizes: Pending
    pool_waits: Pending

    @classmethod
    def make(cls, **metrics: Any) -> DbMetrics:
        return cls(
            **metrics,
            statement_times=tally.pending(metrics["statement_seconds"]),
            batch_sizes=tally.pending(metrics["batch_keys"]),
            pool_waits=tally.pending(metrics["pool_wait_seconds"]),
        )


_made: DbMetrics | None = None


def enable_metrics() -> DbMetrics:
    """Keep the read metrics from now on. The metrics are made once per process (in
    prometheus_client's registry, or its multiprocess files when
    PROMETHEUS_MULTIPROC_DIR is set)."""
    global _made, metrics
    if _made is None:
        _made = DbMetrics.make(
            statement_seconds=Histogram(
                "storefront_sql_statement_duration_seconds",
                "Time of one read statement, from sending it to its last row, by shape "
                "(its _count: the statements of each shape)",
                ["shape"],
                buckets=FAST_BUCKETS,
            ),
            batch_keys=Histogram(
                "storefront_loader_batch_keys",
                "Keys one loader batch reads in its one statement, by the db/ read",
                ["read"],
                buckets=KEY_BUCKETS,
            ),
            pool_in_use=Gauge(
                "storefront_db_pool_connections_in_use",
                "Connections lent out by the pool",
                ["pool"],
                multiprocess_mode="livesum",
            ),
            pool_waiting=Gauge(
                "storefront_db_pool_waiting",
                "Callers queued for a connection, by pool",
                ["pool"],
                multiprocess_mode="livesum",
            ),
            pool_wait_seconds=Histogram(
                "storefront_db_pool_wait_seconds",
                "How long a checkout waited for a connection (0 when one was idle), by pool",
                ["pool"],
                buckets=FAST_BUCKETS,
            ),
            pool_timeouts=Counter(
                "storefront_db_pool_timeouts",
                "Checkouts that waited STOREFRONT_POOL_TIMEOUT_MS and got no connection, by pool",
                ["pool"],
            ),
        )
        tally.every_flush(_sample_pools)
    metrics = _made
    with contextlib.suppress(RuntimeError):  # no running loop: flushed at scrapes only
        tally.start()
    return _made


def disable() -> None:
    """Back to nothing observed (the app's shutdown; tests), what was counted handed on."""
    global tracer, metrics
    tally.stop()
    tally.flush()
    tracer = None
    metrics = None


def set_tracer(found: Tracer | None) -> None:
    global tracer
    tracer = found


# Whether the running request is traced (its span records), set by whoever starts the
# request's span (schema/observe.py): an unsampled request makes no span for its reads,
# its pool waits or its transactions. A context variable, since asking OpenTelemetry
# (the current span, then whether it records) costs each read of an unsampled request
# about 60 Python opcodes; `recording` is the variable's own `get` (a C call).
_recording: ContextVar[bool] = ContextVar("storefront_recording", default=False)
recording = _recording.get


def start_recording() -> Token[bool]:
    """The running request's span records, from here until `stop_recording`."""
    return _recording.set(True)


def stop_recording(token: Token[bool]) -> None:
    _recording.reset(token)


class Watched(Protocol):
    """A pool, as its gauges see it."""

    label: str  # `pool` in the metrics: "read" (ours) or "write" (SQLAlchemy's)

    @property
    def lent(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def closed(self) -> bool: ...


# The pools (the read pools of the primary and the replicas, SQLAlchemy's write pool),
# whose gauges (connections lent, callers queued, summed by label) are read off them at
# each flush of the tally (every second) and at a scrape, rather than set on every
# checkout.
_pools: weakref.WeakSet[Watched] = weakref.WeakSet()
READ_POOL = "read"
WRITE_POOL = "write"
READ_LABELS = (READ_POOL,)
IDLE_CONNECTION = (READ_LABELS, 0.0)  # a checkout that found a connection free
WRITE_LABELS = (WRITE_POOL,)


def watch_pool(pool: Watched) -> None:
    _pools.add(pool)


def _sample_pools() -> None:
    found = metrics
    if found is None:
        return
    live = [pool for pool in list(_pools) if not pool.closed]
    for label in (READ_POOL, WRITE_POOL):
        pools = [pool for pool in live if pool.label == label]
        child(found.pool_in_use, label).set(sum(pool.lent for pool in pools))
        child(found.pool_waiting, label).set(sum(pool.waiting for pool in pools))


def before_scrape() -> None:
    """Make this process's metrics exact for a scrape: what the tally holds handed on,
    and the pools' gauges read off them. On the event loop's thread."""
    tally.flush()


@contextlib.contextmanager
def read_span(active: Tracer, name: str, keys: int | None) -> Iterator[None]:
    """The span of one read: `statement` (below) names its shape and counts its rows."""
    attributes: dict[str, Any] = {"db.system.name": "postgresql"}
    if keys is not None:
        attributes["storefront.batch.keys"] = keys
    with active.start_as_current_span(f"read {name}", kind=SpanKind.CLIENT, attributes=attributes):
        yield


def statement(shape: str, seconds: float, rows: int) -> None:
    """One statement ran: into the read's span and the metrics, whichever are on."""
    if tracer is not None and _recording.get():
        span = get_current_span()
        if span.is_recording():
            span.set_attributes(
                {
                    "db.query.summary": shape,
                    "db.response.returned_rows": rows,
                    "storefront.statement.ms": round(seconds * 1000, 3),
                }
            )
    found = metrics
    if found is not None:
        found.statement_times.append(((shape,), seconds))


NO_WRITE_WAIT = (WRITE_LABELS, 0.0)
# Each open transaction's span, by its Connection, not in `conn.info`: a transaction cut
# off midway (its task cancelled) rolls back on a connection SQLAlchemy has invalidated,
# whose `info` it refuses to read (PendingRollbackError, which would replace the
# cancellation and turn the request's TIMEOUT into an internal error).
_spans: weakref.WeakKeyDictionary[Connection, Span] = weakref.WeakKeyDictionary()


class WatchedQueuePool(AsyncAdaptedQueuePool):
    """The write pool (SQLAlchemy's), its callers queued for a connection counted and
    timed, as the read pool's are: SQLAlchemy has an event after a checkout but none
    before, so this wraps `connect`, the public way into a pool. A checkout that finds
    the pool below its limit (`pool_size` + `max_overflow`) is no wait, whatever its
    ping or a new connection take."""

    label = WRITE_POOL
    closed = False

    def __init__(self, creator: Any, pool_size: int = 5, max_overflow: int = 10, **kw: Any):
        super().__init__(creator, pool_size=pool_size, max_overflow=max_overflow, **kw)
        self.limit = None if max_overflow < 0 else pool_size + max_overflow
        self.waiting = 0
        watch_pool(self)

    @property
    def lent(self) -> int:
        return self.checkedout()

    def connect(self) -> PoolProxiedConnection:
        found = metrics
        if found is None or self.limit is None or self.checkedout() < self.limit:
            if found is not None:
                found.pool_waits.append(NO_WRITE_WAIT)
            return super().connect()
        started = time.perf_counter()
        self.waiting += 1
        try:
            return super().connect()
        except TimeoutError:
            child(found.pool_timeouts, WRITE_POOL).inc()
            raise
        finally:
            self.waiting -= 1
            found.pool_waits.append((WRITE_LABELS, time.perf_counter() - started))


# SQLAlchemy names a pool's logger after its class, and logs "Pool disposed" and the
# like at INFO: as quiet as SQLAlchemy's own loggers, which say only warnings.
logging.getLogger(f"{__name__}.{WatchedQueuePool.__name__}").setLevel(logging.WARNING)


def watch_writes(engine: AsyncEngine) -> None:
    """Each transaction as a span (tracing), through SQLAlchemy's events; the listener
    first checks that the request is traced, so the cost when off is that check per
    write. (The write pool's gauges are WatchedQueuePool's.)"""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "begin", _begin):
        return
    event.listen(sync_engine, "begin", _begin)
    event.listen(sync_engine, "commit", _committed)
    event.listen(sync_engine, "rollback", _rolled_back)


def _begin(conn: Connection) -> None:
    if tracer is not None and recording():
        # SQLAlchemy's greenlet runs in the caller's context: the span's parent is the
        # request's (or the mutation's) span.
        _spans[conn] = tracer.start_span(
            "transaction", kind=SpanKind.CLIENT, attributes={"db.system.name": "postgresql"}
        )


def _ended(conn: Connection, outcome: str) -> None:
    span = _spans.pop(conn, None)
    if span is not None:
        span.set_attribute("storefront.transaction.outcome", outcome)
        span.end()


def _committed(conn: Connection) -> None:
    _ended(conn, "commit")


def _rolled_back(conn: Connection) -> None:
    _ended(conn, "rollback")
