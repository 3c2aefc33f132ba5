"""What gzip costs a request: the app's HTTP middleware with and without compression.

    uv run python bench/compression.py [--rounds 161] [--batch 50]

Times Storefront's middleware stack (`app.http_middleware`: request ids, then gzip)
around an endpoint that answers fixed JSON, called in process as uvicorn calls the
app (no socket, no database), so the difference between the rows is the gzip
middleware's own cost: none, Starlette's GZipMiddleware, and schema/compression.py at
three levels. Two answers, from the demo data the bench's database holds (`seed --scale 1`):

- tiny: query (f) of bench/queries.py, one post with its body, author and tags (the
  q6-style read that must not pay for compression: it is under the 1 KiB threshold);
- large: a feed of the 50 newest published posts with title, body, author and tags.

Each variant runs `--batch` requests per round, for `--rounds` rounds, the variants
taking turns within a round; a row's figure is the median round's time per request.
Not a test: run it on a quiet machine (the figures are microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import app as storefront
from db import demo_data
from schema import compression
from schema.compression import Gzip
from schema.observe import Observe
from schema.transport import json_response
from settings import Settings

FEED_SIZE = 50
POST_F = 7  # bench/queries.py: (f) reads the 7th newest published post


def answers() -> dict[str, bytes]:
    """The two answers, as the view encodes them, from scale 1's demo rows."""
    tables = {
        t.name: t for t in demo_data.generate(scale=1, random_seed=1, admin_hash="-", user_hash="-")
    }
    usernames = {row[0]: row[1] for row in tables["users"].rows}
    tag_names = {row[0]: row[1] for row in tables["tags"].rows}
    tags_of: dict[int, list[int]] = {}
    for post_id, tag_id, _ in tables["post_tags"].rows:
        tags_of.setdefault(int(str(post_id)), []).append(int(str(tag_id)))
    published = [row for row in tables["posts"].rows if row[4]]
    newest = sorted(published, key=lambda row: (row[6], row[0]), reverse=True)

    def post(row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "title": row[2],
            "body": row[3],
            "author": {"username": usernames[row[1]]},
            "tags": [{"name": tag_names[t]} for t in tags_of.get(row[0], [])],
        }

    tiny = {"data": {"post": post(newest[POST_F - 1])}}
    feed = {"data": {"posts": {"edges": [{"node": post(r)} for r in newest[:FEED_SIZE]]}}}
    return {"tiny": orjson.dumps(tiny), "large": orjson.dumps(feed)}


def asgi_app(body: bytes, middleware: list[Middleware]) -> Starlette:
    payload = orjson.loads(body)

    async def graphql(request: Request) -> Response:
        await request.body()
        return json_response(payload)  # encodes per request, as the view does

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], middleware=middleware)


@dataclass
class Variant:
    name: str
    middleware: list[Middleware]


def variants() -> list[Variant]:
    shipped = storefront.http_middleware(Settings())
    without = [m for m in shipped if m.cls is not Gzip]
    assert [m.cls for m in without] == [Observe], "http_middleware changed: update the bench"
    minimum = compression.MINIMUM_BYTES
    starlette = Middleware(GZipMiddleware, minimum_size=minimum, compresslevel=1)
    found = [
        Variant("none", without),
        Variant("Starlette's GZipMiddleware, level 1", [*without, starlette]),
    ]
    for level in sorted({1, 6, 9, compression.LEVEL}):
        gzip = Middleware(Gzip, minimum_size=minimum, level=level)
        mark = " (shipped)" if level == compression.LEVEL else ""
        found.append(Variant(f"schema/compression.py, level {level}{mark}", [*without, gzip]))
    return found


REQUEST = b'{"query":"query Post($id: ID!) { post(id: $id) { title } }","variables":{"id":"x"}}'


def caller(app: Starlette, accept_gzip: bool) -> tuple[Callable[[], Any], list[int]]:
    """One request through `app`; the second item records the last answer's body size."""
    headers = [(b"content-type", b"application/json"), (b"host", b"bench")]
    if accept_gzip:
        headers.append((b"accept-encoding", b"gzip, deflate, br"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    size = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": REQUEST, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            size[0] = len(message.get("body", b""))

    async def call() -> None:
        await app(dict(scope), receive, send)

    return call, size


async def measure(rounds: int, batch: int) -> list[tuple[str, str, str, float, int]]:
    rows: list[tuple[str, str, str, float, int]] = []
    for answer, body in answers().items():
        for accept_gzip in (True, False):
            runs = []
            for variant in variants():
                call, size = caller(asgi_app(body, variant.middleware), accept_gzip)
                runs.append((variant, call, size, []))
            for _ in range(3):  # warm-up
                for _, call, _, _ in runs:
                    await call()
            for _ in range(rounds):
                for _, call, _, times in runs:
                    start = time.perf_counter()
                    for _ in range(batch):
                        await call()
                    times.append((time.perf_counter() - start) / batch * 1e6)
            accept = "gzip" if accept_gzip else "(none)"
            label = f"{answer}, {len(body):,} B"
            for variant, _, size, times in runs:
                rows.append((label, accept, variant.name, statistics.median(times), size[0]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=161, help="rounds per variant (161)")
    parser.add_argument("--batch", type=int, default=50, help="requests per round (50)")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.rounds, args.batch))
    print(f"zlib {zlib.ZLIB_VERSION}; median of {args.rounds} rounds of {args.batch} requests")
    print()
    print("| answer | Accept-Encoding | middleware | µs/request | bytes sent |")
    print("|---|---|---|---:|---:|")
    for label, accept, name, us, size in rows:
        print(f"| {label} | {accept} | {name} | {us:.1f} | {size:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
