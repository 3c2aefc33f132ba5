"""Prometheus metrics of the API, and the /metrics endpoint that serves them with db/'s.

Off unless a setting serves them (app.py): `metrics` stays None and each place that
counts checks it first. On, they live in prometheus_client's registry, or, when
PROMETHEUS_MULTIPROC_DIR is set (several worker processes), in its files there,
which `/metrics` in any worker reads together (`MultiProcessCollector`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from db import telemetry
from db.tally import Pending, child
from schema.observe import Exchange, refused_limits

metrics: RequestMetrics | None = None

# Request latencies: the bench's queries take 1-20 ms; the deadline is 10 s.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)
# Operation names are the client's to choose: past this many, a new one counts as
# "other", so that a client cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 100
OTHER = "other"
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    requests: Counter
    latency: Histogram
    statements: Histogram
    subscriptions: Gauge
    events_delivered: Counter
    events_dropped: Counter
    subscribers_dropped: Counter
    throttled: Counter
    sign_ups_throttled: Counter
    refused: Counter
    persisted: Counter
    # What each request appends to (db/tally.py): ((label values), amount or value).
    answered: Pending
    latencies: Pending
    statement_counts: Pending

    @classmethod
    def make(cls, **metrics: Any) -> RequestMetrics:
        tally = telemetry.tally
        return cls(
            **metrics,
            answered=tally.pending(metrics["requests"]),
            latencies=tally.pending(metrics["latency"]),
            statement_counts=tally.pending(metrics["statements"]),
        )


class OperationNames:
    """The label for an operation name: itself, up to MAX_OPERATION_NAMES of them."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self.seen: set[str] = set()  # the names that are their own label
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self.seen:
            return name
        with self._lock:
            if len(self.seen) >= self.limit:
                return OTHER
            self.seen.add(name)
        return name


_made: RequestMetrics | None = None
names = OperationNames()


def enable() -> RequestMetrics:
    """Keep the API's metrics and db/'s from now on (made once per process)."""
    global _made, metrics
    telemetry.enable_metrics()
    if _made is None:
        _made = RequestMetrics.make(
            requests=Counter(
                "storefront_requests",
                "GraphQL requests over HTTP by operation, type and outcome (`ok`, or the "
                "first error's code)",
                ["operation", "type", "outcome"],
            ),
            latency=Histogram(
                "storefront_request_duration_seconds",
                "GraphQL requests over HTTP, from the first byte in to the last byte out",
                ["operation", "type"],
                buckets=LATENCY_BUCKETS,
            ),
            statements=Histogram(
                "storefront_request_sql_statements",
                "SQL statements one GraphQL request ran",
                ["type"],
                buckets=STATEMENT_BUCKETS,
            ),
            subscriptions=Gauge(
                "storefront_subscriptions_open",
                "Subscriptions running",
                multiprocess_mode="livesum",
            ),
            events_delivered=Counter(
                "storefront_events_delivered", "Events handed to a subscriber's queue"
            ),
            events_dropped=Counter(
                "storefront_events_dropped",
                "Events a subscriber lost when it was dropped for falling behind",
            ),
            subscribers_dropped=Counter(
                "storefront_subscribers_dropped",
                "Subscribers closed (4503) for falling a whole queue behind",
            ),
            throttled=Counter(
                "storefront_sign_ins_throttled", "logIn attempts refused with RATE_LIMITED"
            ),
            sign_ups_throttled=Counter(
                "storefront_sign_ups_throttled", "signUp attempts refused with RATE_LIMITED"
            ),
            refused=Counter(
                "storefront_documents_refused",
                "Documents refused with QUERY_TOO_COMPLEX, by the limit they broke",
                ["limit"],
            ),
            persisted=Counter(
                "storefront_persisted_documents",
                "Persisted documents asked for by hash: hit, miss (PERSISTED_QUERY_NOT_FOUND) "
                "or stored",
                ["result"],
            ),
        )
    metrics = _made
    return _made


def disable() -> None:
    global metrics
    metrics = None
    telemetry.disable()


def observe(exchange: Exchange) -> None:
    """Observe's hook: one GraphQL request over HTTP, answered."""
    found = metrics
    if found is None or exchange.path != "/graphql" or exchange.method not in ("GET", "POST"):
        return
    kind = exchange.operation_type or "none"
    operation = names.label(exchange.operation_name)
    if exchange.error_codes:
        outcome = exchange.error_codes[0]
    else:
        outcome = "ok" if (exchange.status or 500) < 400 else f"http_{exchange.status}"
    found.answered.append(((operation, kind, outcome), 1.0))
    found.latencies.append(((operation, kind), exchange.duration_s or 0.0))
    if exchange.sql_statements is not None:
        found.statement_counts.append(((kind,), exchange.sql_statements))
    for limit in exchange.limits:
        child(found.refused, limit).inc()


def registry(multiprocess_dir: Path | None) -> CollectorRegistry:
    """What /metrics reads: this process's registry, or every worker's files."""
    if multiprocess_dir is None:
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
    return combined


def endpoint(multiprocess_dir: Path | None) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics in Prometheus' text format: this process's metrics made exact first
    (on the event loop), then read on a thread, since the multiprocess files are read."""
    source = registry(multiprocess_dir)

    async def metrics_page(request: Request) -> Response:
        telemetry.before_scrape()
        page = await asyncio.to_thread(generate_latest, source)
        return Response(page, media_type=CONTENT_TYPE_LATEST)

    return metrics_page


def count_refusals(errors: Iterable[Mapping[str, Any]]) -> None:
    """QUERY_TOO_COMPLEX errors sent over the WebSocket, by the limit each names (over
    HTTP, `observe` counts them from the request's Exchange)."""
    found = metrics
    if found is None:
        return
    for limit in refused_limits(errors):
        child(found.refused, limit).inc()
