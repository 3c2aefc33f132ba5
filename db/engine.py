"""Engine and sessionmaker factories for asyncpg.

Two pools: writes go through SQLAlchemy's pre-pinged pool inside explicit
transactions; reads through db/read_pool.py's, in autocommit, without ping or
reset, so that a read batch is exactly one round trip (db/statements.py runs
them). A read pool may later point at a replica without touching its callers.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db import telemetry
from db.read_pool import DROPPED, ReadPool, Share
from db.rows import Row

R = TypeVar("R")

# Each pool's defaults, and so the service's: settings.py takes STOREFRONT_POOL_SIZE's,
# _POOL_MAX_OVERFLOW's, _STATEMENT_TIMEOUT_MS's and _POOL_TIMEOUT_MS's from here, since
# db/ may not import it. Measured on the bench (2 cores shared with PostgreSQL): 10
# connections and no overflow served 5-11 % more requests per second at concurrency 32
# than 20 + 10 (fewer backends contending for the database's CPU), writes included.
POOL_SIZE = 10
POOL_MAX_OVERFLOW = 0
STATEMENT_TIMEOUT_MS = 5000
POOL_TIMEOUT_MS = 2000


def make_engine(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_MAX_OVERFLOW,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    pool_timeout_s: float = POOL_TIMEOUT_MS / 1000,
    application_name: str = "storefront",
    echo: bool = False,
) -> AsyncEngine:
    """The write pool. Every connection cuts off any statement after `statement_timeout_ms`.

    The timeout is a server setting sent at connect time, so it holds for every
    statement without a round trip of its own. A failed statement's error (and the
    SQL echo) never shows its parameters: they are emails, password hashes, tokens.
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=True,
        echo=echo,
        hide_parameters=True,
        connect_args=_connect_args(statement_timeout_ms, application_name),
    )


def make_read_pool(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_MAX_OVERFLOW,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    pool_timeout_s: float = POOL_TIMEOUT_MS / 1000,
    application_name: str = "storefront-read",
) -> ReadPool:
    """The read pool (db/read_pool.py), in autocommit, for db/statements.py's reads.

    Connections open on first need: the app starts (and /readyz answers) with the
    database down.
    """
    connect = functools.partial(
        asyncpg.connect,
        _driver_dsn(url),
        record_class=Row,
        server_settings={
            **_server_settings(statement_timeout_ms, application_name),
            # Plan each prepared read once per connection. A custom plan (the default
            # for the first runs, and for good when a generic plan's estimate looks
            # worse) is planned on every execution: for a page with its relations,
            # planning cost three times the execution. Reads bind only keys, cursors
            # and filters, whose generic plans are the custom ones; page sizes are
            # written into the SQL (db/paging.py, PageShape).
            "plan_cache_mode": "force_generic_plan",
        },
    )
    return ReadPool(connect, size=pool_size + max_overflow, wait_timeout=pool_timeout_s)


def _driver_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` as asyncpg itself spells it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _connect_args(statement_timeout_ms: int, application_name: str) -> dict[str, Any]:
    return {"server_settings": _server_settings(statement_timeout_ms, application_name)}


def _server_settings(statement_timeout_ms: int, application_name: str) -> dict[str, str]:
    return {
        "statement_timeout": str(statement_timeout_ms),
        # A backend whose client is gone (a request cut off mid-statement closes its
        # connection) notices within a second and stops, instead of running on.
        "client_connection_check_interval": "1000",
        "application_name": application_name,
        # Page queries are small; JIT compilation would cost more than it saves.
        "jit": "off",
        # The default (4.0) prices a random page read as on a spinning disk, so the
        # planner hashes a whole small table rather than probe its primary key a
        # few times (a page of posts with their authors and tags: 0.9 ms against
        # 0.35). Pages this service reads are cached or on SSD.
        "random_page_cost": "1.1",
    }


async def read(
    pool: ReadPool | Share, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any
) -> R:
    """Run one read on a connection borrowed for just that call.

    A pooled connection is not pinged before use (a ping is a round trip); if it
    turns out dead, it is closed for good and the read, having changed nothing,
    runs once more on a fresh one. With tracing on, the read is a span named for `fn`.
    """
    active = telemetry.tracer
    if active is None:
        return await _read(pool, fn, args, kwargs)
    with telemetry.read_span(active, getattr(fn, "__name__", "read"), None):
        return await _read(pool, fn, args, kwargs)


async def read_batch(
    pool: ReadPool | Share,
    name: str,
    batch: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[R]],
    keys: Sequence[Any],
) -> R:
    """A loader's batch, `batch(conn, keys)`: one read, observed as `name` with its
    number of keys (the lean executor's and Strawberry's batches alike come here)."""
    found = telemetry.metrics
    if found is not None:
        found.batch_keys.labels(name).observe(len(keys))
    active = telemetry.tracer
    if active is None:
        return await _read(pool, batch, (keys,), {})
    with telemetry.read_span(active, name, len(keys)):
        return await _read(pool, batch, (keys,), {})


async def _read(
    pool: ReadPool | Share,
    fn: Callable[..., Awaitable[R]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> R:
    try:
        async with pool.connection() as conn:
            return await fn(conn, *args, **kwargs)
    except DROPPED:
        async with pool.connection() as conn:
            return await fn(conn, *args, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
