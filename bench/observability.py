"""Throughput with tracing and metrics on, next to off: what observing costs a request.

    uv run python bench/observability.py --queries abcef --rounds 6 -n 300

The issue's bar: at most 5 % apart on the six queries. As in bench/ab.py, HTTP runs on
this VM swing more than that between rounds, so both sides run at once, in two
processes of this checkout, each pinned to its own core (swapped every round), each
sending the query `n` times through the whole ASGI app (middleware, view, executor,
loaders, database) in process. "on" has a tracer provider with a batch span processor
(spans made, attributes set, queued, then dropped by a discarding exporter: the network
is the collector's cost, not the request's) and the Prometheus metrics kept; "off" has
neither, as a default deployment. Per query: the median over rounds of on ÷ off CPU per
request (above 1 is dearer), and each side's requests per CPU second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database
from bench.ab import pinned, seeded
from bench.ab_child import cpu_per_call
from bench.database import ROOT
from bench.harness import _mint_token
from bench.queries import BY_KEY

ALLOWED = 1.05  # the bar: on at most 5 % dearer than off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", default="abcdef", help="query keys")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=300, help="requests per process and round")
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()

    db, fixtures = seeded(args.scale)
    token = None
    if any(BY_KEY[key].admin for key in args.queries):
        token = asyncio.run(_mint_token(db, database.ensure_bench_admin(db)[0]))
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for key in args.queries:
            query = BY_KEY[key]
            body_path = Path(folder) / f"{key}.json"
            body_path.write_text(
                json.dumps(
                    {
                        "body": query.body("storefront", fixtures),
                        "token": token if query.admin else None,
                    }
                )
            )
            rounds = [_round(db.url, body_path, args.n, r) for r in range(args.rounds)]
            ratios = [on / off for on, off in rounds]
            median = statistics.median(ratios)
            worst = max(worst, median)
            per_s_on = statistics.median(1e6 / on for on, _ in rounds)
            per_s_off = statistics.median(1e6 / off for _, off in rounds)
            print(
                f"{query.label}: on ÷ off CPU/request {median:.3f} "
                f"(rounds {' '.join(f'{r:.3f}' for r in ratios)}); "
                f"requests per CPU second on {per_s_on:.0f}, off {per_s_off:.0f}",
                flush=True,
            )
    verdict = "within" if worst <= ALLOWED else "OVER"
    print(f"worst median {worst:.3f}: {verdict} the {ALLOWED - 1:.0%} allowed")


def _round(url: str, body: Path, n: int, round_: int) -> tuple[float, float]:
    """(on, off): CPU µs per request of each side, run at once on their own cores."""
    commands = {
        side: [sys.executable, __file__, "--child", side, url, str(body), str(n)]
        for side in ("on", "off")
    }
    cpu = pinned(commands, round_)
    return cpu["on"], cpu["off"]


async def child(side: str, url: str, request: dict[str, Any], n: int) -> float:
    """CPU µs per request through the ASGI app, observed (`on`) or not (`off`)."""
    import httpx
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    import app as storefront
    import settings as config

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = None
    if side == "on":
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
    settings = config.Settings(
        database_url=url, metrics_on_main_port=side == "on", access_log=False
    )
    app = storefront.create_app(
        settings, config.normalise_database_url(url), tracer_provider=provider
    )
    headers = {"Authorization": f"Bearer {request['token']}"} if request["token"] else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def once() -> None:
                response = await client.post("/graphql", json=request["body"], headers=headers)
                assert "errors" not in response.json(), response.text

            return await cpu_per_call(once, n)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        side, url, body_path, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        os.chdir(ROOT)
        print(f"{asyncio.run(child(side, url, json.loads(Path(body_path).read_text()), n)):.1f}")
    else:
        main()
