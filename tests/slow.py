"""A root query with slow fields, for the deadline tests (never part of the served schema)."""

from __future__ import annotations

import time

import strawberry

from schema.context import Info
from schema.query import Query


@strawberry.type(name="Query")
class SlowQuery(Query):
    @strawberry.field(description="Sleeps in PostgreSQL for `seconds`.")
    async def sleep(self, info: Info, seconds: float) -> bool:
        async with info.context.services.read_pool.connection() as conn:
            await conn.execute("SELECT pg_sleep($1)", seconds)
        return True

    @strawberry.field(description="Busy in Python for `seconds`, never yielding.")
    def spin(self, seconds: float) -> bool:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass
        return True
