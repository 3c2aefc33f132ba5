"""Engine and sessionmaker factories for asyncpg.

Two pools: writes go through SQLAlchemy's pre-pinged pool inside explicit
transactions; reads through db/read_pool.py's, in autocommit, without ping or
reset, so that a read batch is exactly one round trip (db/statements.py runs
them). A replica's read pool (db/replicas.py) is made the same way.
Behind PgBouncer (Pooler) both set their settings per transaction instead.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
from opentelemetry.trace import Tracer
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db import telemetry
from db.read_pool import DROPPED, Lender, ReadPool, Share
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


class Pooler(enum.Enum):
    """What stands between the service and PostgreSQL (STOREFRONT_DATABASE_POOLER).

    By default a connection's settings (statement_timeout and the planner's) go in its
    startup packet, and reads are prepared once per connection. PgBouncer, in any pool
    mode, refuses a startup packet with settings other than the few it tracks per client
    (application_name among them); in transaction mode it hands each transaction to
    whichever server connection is free, where a session's settings and, before 1.21,
    its prepared statements are not found again.
    """

    # PostgreSQL itself: one client connection, one session.
    NONE = "none"
    # PgBouncer in session mode, or in transaction mode from 1.21 with
    # max_prepared_statements > 0 (it re-prepares a client's statements on whichever
    # server connection runs them): settings per transaction, statements prepared.
    PGBOUNCER = "pgbouncer"
    # PgBouncer in transaction mode without prepared statements (before 1.21, or
    # max_prepared_statements = 0): settings per transaction, no statement kept.
    PGBOUNCER_TRANSACTION = "pgbouncer-transaction"

    @property
    def settings_per_transaction(self) -> bool:
        return self is not Pooler.NONE

    @property
    def prepares(self) -> bool:
        return self is not Pooler.PGBOUNCER_TRANSACTION


def make_engine(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_MAX_OVERFLOW,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    pool_timeout_s: float = POOL_TIMEOUT_MS / 1000,
    application_name: str = "storefront",
    echo: bool = False,
    pooler: Pooler = Pooler.NONE,
) -> AsyncEngine:
    """The write pool. Every connection cuts off any statement after `statement_timeout_ms`.

    The timeout is a server setting sent at connect time, so it holds for every
    statement without a round trip of its own. A failed statement's error (and the
    SQL echo) never shows its parameters: they are emails, password hashes, tokens.
    Behind PgBouncer (`pooler`) the settings are set at the start of every transaction
    instead, and in PGBOUNCER_TRANSACTION mode no prepared statement is kept.
    """
    settings = _server_settings(statement_timeout_ms, application_name)
    connect_args: dict[str, Any] = {"server_settings": _at_connect(settings, pooler)}
    if not pooler.prepares:
        connect_args.update(
            # asyncpg's own cache, which SQLAlchemy's dialect sits on (asyncpg FAQ, "Why
            # am I getting prepared statement errors?": statement_cache_size=0 behind
            # PgBouncer in transaction mode); with it off, asyncpg re-Parses an unnamed
            # statement at each execution (asyncpg #1065).
            statement_cache_size=0,
            # SQLAlchemy's asyncpg dialect prepares every statement, named; its docs
            # ("Prepared Statement Cache", "Prepared Statement Name with PGBouncer"):
            # no cache, and a name no other client of a shared server connection uses.
            prepared_statement_cache_size=0,
            prepared_statement_name_func=_unique_statement_name,
        )
    engine = create_async_engine(
        url,
        poolclass=telemetry.WatchedQueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=True,
        echo=echo,
        hide_parameters=True,
        connect_args=connect_args,
    )
    if pooler.settings_per_transaction:
        _set_per_transaction(engine, _set_config(_per_transaction(settings)))
    return engine


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _set_per_transaction(engine: AsyncEngine, sql: str) -> None:
    """Run `sql` first in every transaction on `engine`'s connections."""

    def begin(conn: Connection) -> None:
        # Connection.begin dispatches this before it is done beginning; an execute here
        # does not begin again (SQLAlchemy's autobegin waits while one is in progress),
        # and the asyncpg dialect opens the transaction at its first statement: this one.
        conn.exec_driver_sql(sql)

    event.listen(engine.sync_engine, "begin", begin)


def make_read_pool(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_MAX_OVERFLOW,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    pool_timeout_s: float = POOL_TIMEOUT_MS / 1000,
    application_name: str = "storefront-read",
    connect_timeout_s: float | None = None,
    pooler: Pooler = Pooler.NONE,
) -> ReadPool:
    """The read pool (db/read_pool.py), in autocommit, for db/statements.py's reads.

    Connections open on first need: the app starts (and /readyz answers) with the
    database down. `connect_timeout_s` (None: asyncpg's own) is shortened for a
    replica's pool, so that an unreachable replica costs a read little before it falls
    back to the primary. Behind PgBouncer each borrowed connection runs its reads in a
    read-only transaction that begins by setting what a session would have had.
    """
    settings = _server_settings(statement_timeout_ms, application_name)
    if pooler.prepares:
        # Plan each prepared read once per connection. A custom plan (the default
        # for the first runs, and for good when a generic plan's estimate looks
        # worse) is planned on every execution: for a page with its relations,
        # planning cost three times the execution. Reads bind only keys, cursors
        # and filters, whose generic plans are the custom ones; page sizes are
        # written into the SQL (db/paging.py, PageShape). Unprepared, every read is
        # parsed and planned afresh anyway, best with its values (a custom plan).
        settings["plan_cache_mode"] = "force_generic_plan"
    # asyncpg FAQ: statement_cache_size=0 behind a pooler without prepared statements;
    # reads then go out as unnamed statements, parsed at each run.
    uncached = {} if pooler.prepares else {"statement_cache_size": 0}
    connect = functools.partial(
        asyncpg.connect,
        _driver_dsn(url),
        **({} if connect_timeout_s is None else {"timeout": connect_timeout_s}),
        record_class=Row,
        server_settings=_at_connect(settings, pooler),
        **uncached,
    )
    begin = None
    if pooler.settings_per_transaction:
        # One simple-protocol round trip, which any pooler passes as it is; the
        # transaction also keeps the borrow on one server connection until COMMIT.
        begin = f"BEGIN READ ONLY; {_set_config(_per_transaction(settings))}"
    return ReadPool(
        connect, size=pool_size + max_overflow, wait_timeout=pool_timeout_s, begin=begin
    )


def _driver_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` as asyncpg itself spells it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# The one setting PgBouncer accepts in a startup packet and keeps per client (it sets
# it on whichever server connection serves that client's transaction).
TRACKED_BY_POOLERS = frozenset({"application_name"})


def _at_connect(settings: Mapping[str, str], pooler: Pooler) -> dict[str, str]:
    if not pooler.settings_per_transaction:
        return dict(settings)
    return {name: value for name, value in settings.items() if name in TRACKED_BY_POOLERS}


def _per_transaction(settings: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in settings.items() if name not in TRACKED_BY_POOLERS}


def _set_config(settings: Mapping[str, str]) -> str:
    """One statement that sets `settings` until the transaction ends (SET LOCAL's
    effect, as one statement: a prepared statement holds only one)."""
    calls = ", ".join(
        f"set_config({_literal(name)}, {_literal(value)}, true)" for name, value in settings.items()
    )
    return f"SELECT {calls}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
    pool: Lender | Share, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any
) -> R:
    """Run one read on a connection borrowed for just that call.

    A pooled connection is not pinged before use (a ping is a round trip); if it
    turns out dead, it is closed for good and the read, having changed nothing,
    runs once more on a fresh one. With tracing on, the read is a span named for `fn`.
    """
    active = telemetry.tracer
    if active is None or not telemetry.recording():
        return await _read(pool, fn, args, kwargs)
    with telemetry.read_span(active, getattr(fn, "__name__", "read"), None):
        return await _read(pool, fn, args, kwargs)


def read_batch(
    pool: Lender | Share,
    name: str,
    batch: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[R]],
    keys: Sequence[Any],
) -> Awaitable[R]:
    """A loader's batch, `batch(conn, keys)`: one read, observed as `name` with its
    number of keys (the lean executor's and Strawberry's batches alike come here).
    Not a coroutine of its own unless it is traced: each coroutine between a read and
    its caller runs Python at every wait of the read."""
    found = telemetry.metrics
    if found is not None:
        found.batch_sizes.append(((name,), len(keys)))
    active = telemetry.tracer
    if active is None or not telemetry.recording():
        return _read(pool, batch, (keys,), {})
    return _traced_batch(active, pool, name, batch, keys)


async def _traced_batch(
    active: Tracer,
    pool: Lender | Share,
    name: str,
    batch: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[R]],
    keys: Sequence[Any],
) -> R:
    with telemetry.read_span(active, name, len(keys)):
        return await _read(pool, batch, (keys,), {})


async def _read(
    pool: Lender | Share,
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
