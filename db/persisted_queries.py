"""Persisted queries (Apollo APQ): documents stored by their SHA-256, for every instance."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import Select, String, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import persisted_queries
from db.statements import fetch_one, shaped

# Documents kept, the newest: anyone may register one (up to the body limit each), so
# the table must not grow with every new text a client sends. An APQ client whose
# document was dropped gets PERSISTED_QUERY_NOT_FOUND and registers it again.
MAX_STORED = 10_000


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
    """Keep `query` under `sha256`; a document stored already (by any instance) stays.
    Past MAX_STORED documents, the oldest are dropped."""
    await session.execute(
        insert(persisted_queries)
        .values(sha256=sha256, query=query)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    older = (
        select(persisted_queries.c.sha256)
        .order_by(persisted_queries.c.created_at.desc(), persisted_queries.c.sha256.desc())
        .offset(MAX_STORED)
    )
    await session.execute(delete(persisted_queries).where(persisted_queries.c.sha256.in_(older)))
