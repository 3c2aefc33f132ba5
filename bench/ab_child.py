"""Run by bench/ab.py with a checkout's own Python: time one query through that
checkout's lean executor, print process CPU µs per execution.

Written against both layouts the A/B compares (settings in settings.py or app.py, the
executor in schema/executor/ or schema/fast.py), so older commits run it unchanged.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def cpu_per_call(once: Callable[[], Awaitable[Any]], n: int) -> float:
    """Process CPU µs per `once()`, over `n` calls after a warm-up (bench/observability.py
    times its requests the same way)."""
    for _ in range(50):  # caches, pool, prepared statements
        await once()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)  # as serving.py tunes it
    start = time.process_time()
    for _ in range(n):
        await once()
    return (time.process_time() - start) / n * 1e6


async def main(root: str, url: str, body: dict[str, Any], n: int) -> float:
    sys.path.insert(0, root)
    os.chdir(root)
    try:
        import settings as config
    except ImportError:
        import app as config  # type: ignore[no-redef]
    import app as storefront
    from db.engine import make_sessionmaker
    from schema import build_schema
    from schema.context import Context, Services

    try:
        from schema.executor.fast_path import FastPath
    except ImportError:
        from schema.fast import FastPath  # type: ignore[import-not-found,no-redef]

    settings = config.Settings(database_url=url)
    normalised = config.normalise_database_url(url)
    engine = storefront.build_engine(settings, normalised)
    pool = storefront.build_read_pool(settings, normalised)
    lean = FastPath(build_schema())
    services = Services(read_pool=pool, sessionmaker=make_sessionmaker(engine))

    async def once() -> Any:
        context = Context(services=services, viewer=None, request_id="ab")
        return await lean.execute(body["query"], body["variables"], body["operationName"], context)

    try:
        return await cpu_per_call(once, n)
    finally:
        await pool.close()
        await engine.dispose()


if __name__ == "__main__":
    root, url, body_path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(body_path) as file:
        body = json.load(file)
    print(f"{asyncio.run(main(root, url, body, n)):.1f}")
