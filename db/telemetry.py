"""What the reads tell an operator, when asked: a span per batch, pool use, statement timings.

Everything here is off until the app switches it on (app.py, from settings): `tracer`
and `metrics` stay None, and the request path's only cost is reading them. Reads run
through `db.engine.read` (a batch borrows a connection, runs its statement, gives the
connection back) and `db.statements.fetch` (the statement itself), so both of the
service's executors are observed in those two places.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind, Tracer, get_current_span
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

# None: no tracing (no span is made, not even a non-recording one).
tracer: Tracer | None = None
metrics: DbMetrics | None = None

# Statement and wait times are mostly under a few milliseconds.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
KEY_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


@dataclass(frozen=True, slots=True)
class DbMetrics:
    statements: Counter
    statement_seconds: Histogram
    batch_keys: Histogram
    pool_in_use: Gauge
    pool_waiting: Gauge
    pool_wait_seconds: Histogram
    pool_timeouts: Counter


_made: DbMetrics | None = None


def enable_metrics() -> DbMetrics:
    """Keep the read metrics from now on. The metrics are made once per process (in
    prometheus_client's registry, or its multiprocess files when
    PROMETHEUS_MULTIPROC_DIR is set)."""
    global _made, metrics
    if _made is None:
        _made = DbMetrics(
            statements=Counter(
                "storefront_sql_statements",
                "SQL statements run on the read pool, by statement shape",
                ["shape"],
            ),
            statement_seconds=Histogram(
                "storefront_sql_statement_duration_seconds",
                "Time of one read statement, from sending it to its last row",
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
                "Callers queued for a connection of the read pool",
                ["pool"],
                multiprocess_mode="livesum",
            ),
            pool_wait_seconds=Histogram(
                "storefront_db_pool_wait_seconds",
                "How long a read waited for a connection of the read pool (0 when one was idle)",
                ["pool"],
                buckets=FAST_BUCKETS,
            ),
            pool_timeouts=Counter(
                "storefront_db_pool_timeouts",
                "Reads that waited STOREFRONT_POOL_TIMEOUT_MS and got no connection",
                ["pool"],
            ),
        )
    metrics = _made
    return _made


def disable() -> None:
    """Back to nothing observed (the app's shutdown; tests)."""
    global tracer, metrics
    tracer = None
    metrics = None


def set_tracer(found: Tracer | None) -> None:
    global tracer
    tracer = found


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
    if tracer is not None:
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
        found.statements.labels(shape).inc()
        found.statement_seconds.observe(seconds)


WRITE_POOL = "write"
_SPAN = "storefront.transaction"


def watch_writes(engine: AsyncEngine) -> None:
    """The write pool's connections in use (metrics) and each transaction as a span
    (tracing), through SQLAlchemy's events; each listener first checks that its kind
    of observation is on, so the cost when off is that check per write."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "begin", _begin):
        return
    event.listen(sync_engine.pool, "checkout", _checked_out)
    event.listen(sync_engine.pool, "checkin", _checked_in)
    event.listen(sync_engine, "begin", _begin)
    event.listen(sync_engine, "commit", _committed)
    event.listen(sync_engine, "rollback", _rolled_back)


def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if metrics is not None:
        metrics.pool_in_use.labels(WRITE_POOL).inc()


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    if metrics is not None:
        metrics.pool_in_use.labels(WRITE_POOL).dec()


def _begin(conn: Connection) -> None:
    if tracer is not None:
        # SQLAlchemy's greenlet runs in the caller's context: the span's parent is the
        # request's (or the mutation's) span.
        conn.info[_SPAN] = tracer.start_span(
            "transaction", kind=SpanKind.CLIENT, attributes={"db.system.name": "postgresql"}
        )


def _ended(conn: Connection, outcome: str) -> None:
    span = conn.info.pop(_SPAN, None)
    if span is not None:
        span.set_attribute("storefront.transaction.outcome", outcome)
        span.end()


def _committed(conn: Connection) -> None:
    _ended(conn, "commit")


def _rolled_back(conn: Connection) -> None:
    _ended(conn, "rollback")
