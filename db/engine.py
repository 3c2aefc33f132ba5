"""Engine and sessionmaker factories for asyncpg.

Two pools: writes go through a pre-pinged pool inside explicit transactions;
reads through an autocommit pool without pre-ping, so that a read batch is
exactly one round trip (asyncpg's pre-ping alone is a BEGIN and a ROLLBACK).
A read pool may later point at a replica without touching its callers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

R = TypeVar("R")


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 5000,
    application_name: str = "storefront",
    echo: bool = False,
) -> AsyncEngine:
    """The write pool. Every connection cuts off any statement after `statement_timeout_ms`.

    The timeout is a server setting sent at connect time, so it holds for every
    statement without a round trip of its own.
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        echo=echo,
        connect_args=_connect_args(statement_timeout_ms, application_name),
    )


def make_read_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 5000,
    application_name: str = "storefront-read",
) -> AsyncEngine:
    """The read pool: autocommit, no pre-ping; `read()` retries once on a dead connection."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        connect_args=_connect_args(statement_timeout_ms, application_name),
    )


def _connect_args(statement_timeout_ms: int, application_name: str) -> dict[str, Any]:
    return {
        "server_settings": {
            "statement_timeout": str(statement_timeout_ms),
            "application_name": application_name,
            # Page queries are small; JIT compilation would cost more than it saves.
            "jit": "off",
        }
    }


async def read(
    engine: AsyncEngine, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any
) -> R:
    """Run one read on a connection borrowed for just that call.

    Without pre-ping a pooled connection may have died (server restart, idle
    cut-off); SQLAlchemy then invalidates it, and the read, having changed
    nothing, is safe to run once more on a fresh one.
    """
    try:
        async with engine.connect() as conn:
            return await fn(conn, *args, **kwargs)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    async with engine.connect() as conn:
        return await fn(conn, *args, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
