"""Persisted queries (Apollo APQ): documents stored by their SHA-256, for every instance."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import Select, String, bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import persisted_queries
from db.statements import fetch_one, shaped


@shaped
def _query_by_hash() -> Select[Any]:
    return select(persisted_queries.c.query).where(
        persisted_queries.c.sha256 == bindparam("sha256", type_=String)
    )


async def query_by_hash(conn: asyncpg.Connection, sha256: str) -> str | None:
    """The document stored under `sha256` (lower-case hex), or None."""
    row = await fetch_one(conn, _query_by_hash(), sha256=sha256)
    return None if row is None else str(row[0])


async def store(session: AsyncSession, sha256: str, query: str) -> None:
    """Keep `query` under `sha256`; a document stored already (by any instance) stays."""
    await session.execute(
        insert(persisted_queries)
        .values(sha256=sha256, query=query)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
