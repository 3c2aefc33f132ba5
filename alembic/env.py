"""Alembic environment: async, and aware only of db.models' metadata.

The URL comes from the same settings as the app (settings.py). Callers that
already hold a connection (the app's `migrate` command, the tests) pass it in
`config.attributes["connection"]` and no new engine is made.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


# Any constant of our own: the advisory lock that one migration run holds at a time.
MIGRATION_LOCK = 0x5F0E7A11


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        # Two runs at once (a migrate per deploying instance) would both find the same
        # revision and create the same tables; the second would fail on the first's.
        # Held to the commit, the lock makes the second wait and then read the revision
        # the first left, with nothing left to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from app import resolve_database_url
    from settings import Settings

    return resolve_database_url(Settings.from_env())


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
