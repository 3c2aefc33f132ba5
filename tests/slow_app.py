"""`app.py serve` with two slow Query fields, for the shutdown tests (test_lifecycle.py):

    python -m tests.slow_app serve --port 0

`sleep(seconds)` waits in PostgreSQL (`pg_sleep` on the read pool), `spin(seconds)`
busy-loops in Python without ever yielding to the event loop.
"""

from __future__ import annotations

import sys
import time

import strawberry

import app
from schema import Schema, build_schema
from schema.context import Info
from schema.query import Query


@strawberry.type(name="Query")
class SlowQuery(Query):
    @strawberry.field
    async def sleep(self, info: Info, seconds: float) -> bool:
        async with info.context.services.read_pool.connection() as conn:
            await conn.execute("SELECT pg_sleep($1)", seconds)
        return True

    @strawberry.field
    def spin(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        return True


def slow_schema() -> Schema:
    return build_schema(query=SlowQuery)


if __name__ == "__main__":
    sys.exit(app.run(schema=slow_schema()))
