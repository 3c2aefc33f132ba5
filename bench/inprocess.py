"""Storefront without HTTP, on a Context built as tests/conftest.py does.

Times what the GraphQL layer, the loaders and the database cost, with no server, JSON
encoding or network, twice: through the lean executor (`schema/executor/`, what the HTTP
view runs for plain reads) and through Strawberry's `schema.execute` (what it hands
everything else to). Counts the SQL statements each execution runs.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.database import ROOT, BenchDatabase
from bench.queries import Fixtures, Query


@dataclass
class InProcessResult:
    query: str
    iterations: int
    mean_ms: float | None = None  # Strawberry's schema.execute
    p50_ms: float | None = None
    p99_ms: float | None = None
    statements: int | None = None
    lean_mean_ms: float | None = None  # the lean executor; None when it hands the document over
    lean_p50_ms: float | None = None
    lean_p99_ms: float | None = None
    lean_statements: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run(
    db: BenchDatabase,
    selected: list[Query],
    fixtures: Fixtures,
    tokens: dict[str, str | None],
    n: int,
) -> list[InProcessResult]:
    """`tokens`: the bearer token per `Query.viewer` ("admin", "reader")."""
    return asyncio.run(_run(db, selected, fixtures, tokens, n))


async def _run(
    db: BenchDatabase,
    selected: list[Query],
    fixtures: Fixtures,
    tokens: dict[str, str | None],
    n: int,
) -> list[InProcessResult]:
    sys.path.insert(0, str(ROOT))
    import app as storefront
    import settings as config
    from db.accounts import viewer_by_token
    from db.engine import make_sessionmaker
    from db.statement_counter import counting
    from schema import build_schema
    from schema.context import Context, Services
    from schema.executor.fast_path import FastPath

    settings = config.Settings(database_url=db.url)
    url = config.normalise_database_url(db.url)
    engine = storefront.build_engine(settings, url)
    read_pool = storefront.build_read_pool(settings, url)
    schema = build_schema()
    lean = FastPath(schema)  # as schema/view.py builds it
    services = Services(read_pool=read_pool, sessionmaker=make_sessionmaker(engine))
    viewers: dict[str, Any] = {}  # Query.viewer -> the Viewer its token stands for
    async with read_pool.connection() as conn:
        for viewer, token in tokens.items():
            if token is not None:
                viewers[viewer] = await viewer_by_token(conn, token)
    results = []
    try:
        for query in selected:
            body = query.body("storefront", fixtures)
            result = InProcessResult(query=query.label, iterations=n)
            results.append(result)

            def context(query: Query = query) -> Context:
                return Context(
                    services=services, viewer=viewers.get(query.viewer), request_id="bench"
                )

            async def once(body: dict[str, Any] = body) -> tuple[Any, int]:
                with counting() as log:
                    answer = await schema.execute(
                        body["query"],
                        variable_values=body["variables"],
                        context_value=context(),
                        operation_name=body["operationName"],
                    )
                return answer, log.count

            async def once_lean(body: dict[str, Any] = body) -> tuple[Any, int]:
                with counting() as log:
                    data = await lean.execute(
                        body["query"], body["variables"], body["operationName"], context()
                    )
                return data, log.count

            answer, result.statements = await once()
            if answer.errors:
                result.error = "; ".join(str(e.message)[:160] for e in answer.errors[:3])
                continue
            data, lean_count = await once_lean()
            if data is not None:
                result.lean_statements = lean_count
                timings = await _time(once_lean, n)
                result.lean_mean_ms, result.lean_p50_ms, result.lean_p99_ms = _stats(timings)
            timings = await _time(once, n)
            result.mean_ms, result.p50_ms, result.p99_ms = _stats(timings)
    finally:
        await read_pool.close()
        await engine.dispose()
    return results


async def _time(once: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm-up: caches, pool, prepared statements
        await once()
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        await once()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _stats(timings: list[float]) -> tuple[float, float, float]:
    """mean, p50, p99 in ms."""
    timings = sorted(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.fmean(timings), timings[len(timings) // 2], p99
