"""Load deterministic demo data (db.demo_data) with COPY, in one transaction."""

from __future__ import annotations

import asyncio
import secrets
import string
import sys
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from db.accounts import hash_password
from db.demo_data import ADMIN_USERNAME, TableRows, generate
from db.models import Base

# argon2id of a random password that was thrown away: demo users other than the admin
# cannot sign in, and loading them costs no hashing.
DEMO_USER_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$Kjas0ZtvxxZhH6C8ukqZjQ"
    "$8F/OjGVJWT/HCZ3juC6gU9yjJ9nkFM6H3hnCEs2U7dY"
)
IDENTITY_TABLES = ("users", "tags", "products", "posts", "orders")
COPY_CHUNK = 10_000
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class DatabaseNotEmpty(Exception):
    """The database holds rows and the caller did not ask to replace them."""

    def __init__(self) -> None:
        super().__init__(
            "the database already holds data; `seed --replace` deletes every row and loads afresh"
        )


@dataclass(frozen=True, slots=True)
class SeedReport:
    scale: int
    random_seed: int
    counts: dict[str, int]
    seconds: float
    demo_login: tuple[str, str] | None

    def summary(self) -> str:
        """Rows per table and the time taken, one table a line."""
        width = max(len(name) for name in self.counts)
        lines = [
            f"loaded demo data (scale {self.scale}, random seed {self.random_seed}) "
            f"in {self.seconds:.1f} s:"
        ]
        lines += [f"  {name:<{width}}  {count:>10,}" for name, count in self.counts.items()]
        return "\n".join(lines)


async def is_empty(engine: AsyncEngine) -> bool:
    """True when no table of the schema holds a row."""
    async with engine.connect() as conn:
        return not await _holds_rows(conn)


async def seed(
    engine: AsyncEngine,
    *,
    scale: int = 1,
    random_seed: int = 1,
    replace: bool = False,
    progress: bool = False,
) -> SeedReport:
    """Load scale x (2,000 users, 20,000 posts, 200 tags, 1,000 products, 10,000 orders).

    Refuses (DatabaseNotEmpty) a database that holds rows unless `replace`, which
    truncates every table first. All or nothing: one transaction, then VACUUM (ANALYZE).
    """
    started = time.perf_counter()
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        # Also makes SQLAlchemy open the transaction the raw COPYs below run in.
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        if replace:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        elif await _holds_rows(conn):
            raise DatabaseNotEmpty()
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
        tables = await asyncio.to_thread(
            generate,
            scale=scale,
            random_seed=random_seed,
            admin_hash=await hash_password(password),
            user_hash=DEMO_USER_HASH,
        )
        await _copy(conn, tables, progress=progress)
        for name in IDENTITY_TABLES:
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"coalesce(max(id), 0) + 1, false) FROM {name}"
                )
            )
        # The COPYs' triggers kept the counts, spread over the slots of whichever
        # connection ran them: one row per count instead, the same on every seed.
        await conn.execute(text("SELECT row_counts_rebuild()"))
    # VACUUM, not just ANALYZE: it marks the new pages all-visible, so the index-only
    # scans that count and page a tag's posts need not visit the table (without it
    # they did until autovacuum came round: twice the database CPU for the tags
    # query at scale 10). VACUUM cannot run inside a transaction block.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SET statement_timeout = 0"))
        try:
            await conn.execute(text(f"VACUUM (ANALYZE) {names}"))
        finally:
            await conn.execute(text("RESET statement_timeout"))  # the pool's own again
    return SeedReport(
        scale=scale,
        random_seed=random_seed,
        counts={table.name: len(table.rows) for table in tables},
        seconds=time.perf_counter() - started,
        demo_login=(ADMIN_USERNAME, password),
    )


async def _holds_rows(conn: AsyncConnection) -> bool:
    checks = " OR ".join(
        f"EXISTS (SELECT FROM {table.name})" for table in Base.metadata.sorted_tables
    )
    return bool((await conn.execute(text(f"SELECT {checks}"))).scalar_one())


async def _copy(conn: AsyncConnection, tables: list[TableRows], *, progress: bool) -> None:
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        raise RuntimeError("COPY must run inside the seed's transaction")
    total = sum(len(table.rows) for table in tables)
    with tqdm(
        total=total, unit=" rows", unit_scale=True, file=sys.stderr, disable=not progress
    ) as bar:
        for table in tables:
            bar.set_description(f"{table.name:<11}")
            for start in range(0, len(table.rows), COPY_CHUNK):
                chunk = table.rows[start : start + COPY_CHUNK]
                await driver.copy_records_to_table(table.name, records=chunk, columns=table.columns)
                bar.update(len(chunk))
