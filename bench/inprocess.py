"""Storefront without HTTP: `schema.execute` on a Context built as tests/conftest.py does.

Times what the GraphQL layer, the loaders and the database cost, with no server, JSON
encoding or network; counts the SQL statements each execution runs.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.database import ROOT, BenchDatabase
from bench.queries import Fixtures, Query


@dataclass
class InProcessResult:
    query: str
    iterations: int
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    statements: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run(
    db: BenchDatabase, selected: list[Query], fixtures: Fixtures, token: str | None, n: int
) -> list[InProcessResult]:
    return asyncio.run(_run(db, selected, fixtures, token, n))


async def _run(
    db: BenchDatabase, selected: list[Query], fixtures: Fixtures, token: str | None, n: int
) -> list[InProcessResult]:
    sys.path.insert(0, str(ROOT))
    import app as storefront
    from db.accounts import viewer_by_token
    from db.engine import make_sessionmaker
    from db.statement_counter import counting
    from schema import build_schema
    from schema.context import Context, Services

    settings = storefront.Settings(database_url=db.url)
    url = storefront.normalise_database_url(db.url)
    engine = storefront.build_engine(settings, url)
    if hasattr(storefront, "build_read_engine"):  # a pool of its own, as the app and tests do
        read_engine = storefront.build_read_engine(settings, url)
    else:
        from db.engine import read_only  # type: ignore[attr-defined]

        read_engine = read_only(engine)
    schema = build_schema()
    services = Services(read_engine=read_engine, sessionmaker=make_sessionmaker(engine))
    admin = None
    if token is not None:
        async with services.read_engine.connect() as conn:
            admin = await viewer_by_token(conn, token)
    results = []
    try:
        for query in selected:
            body = query.body("storefront", fixtures)
            result = InProcessResult(query=query.label, iterations=n)
            results.append(result)

            async def once(query: Query = query, body: dict[str, Any] = body) -> tuple[Any, int]:
                context = Context(
                    services=services,
                    viewer=admin if query.admin else None,
                    request_id="bench",
                )
                with counting() as log:
                    answer = await schema.execute(
                        body["query"],
                        variable_values=body["variables"],
                        context_value=context,
                        operation_name=body["operationName"],
                    )
                return answer, log.count

            answer, result.statements = await once()
            if answer.errors:
                result.error = "; ".join(str(e.message)[:160] for e in answer.errors[:3])
                continue
            for _ in range(min(20, n)):  # warm-up: caches, pool, prepared statements
                await once()
            timings = []
            for _ in range(n):
                start = time.perf_counter()
                await once()
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            result.mean_ms = statistics.fmean(timings)
            result.p50_ms = timings[len(timings) // 2]
            result.p99_ms = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    finally:
        await read_engine.dispose()
        await engine.dispose()
    return results
