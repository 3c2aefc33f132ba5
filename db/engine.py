"""Engine and sessionmaker factories for asyncpg."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 5000,
    application_name: str = "storefront",
    echo: bool = False,
) -> AsyncEngine:
    """An engine whose connections cut off any statement after `statement_timeout_ms`.

    The timeout is a server setting sent at connect time, so it holds for every
    statement without a round trip of its own.
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        echo=echo,
        connect_args={
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                "application_name": application_name,
                "jit": "off",
            }
        },
    )


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, in autocommit: a read batch is one round trip, no BEGIN/ROLLBACK."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
