"""Alembic, driven from code: upgrade, downgrade, and where a database stands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alembic import command

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("alembic/versions holds no revision")
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships, the head and all before it."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


async def current_revision(conn: AsyncConnection) -> str | None:
    def read(sync_conn: Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def _run(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    def run(sync_conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        action(config)

    async with engine.begin() as conn:
        await conn.run_sync(run)
