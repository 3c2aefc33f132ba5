"""What a command does before its own work: find the database (DATABASE_URL, or the
embedded server started), reach it within a timeout, check its migration, and, for the
embedded one, migrate it, load the demo data and keep the demo sign-in; for `serve`,
bind its socket first.

What a user can fix (no server at that address, a port taken, a database not yet
migrated) comes out as a ConfigError: the command's one line of error.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app import build_engine, resolve_database_url
from db import migrations
from settings import ConfigError, Settings

# How long a command waits for the database's first answer.
CONNECT_TIMEOUT_S = 10


def database_url(settings: Settings) -> str:
    """`resolve_database_url`, with a failure to start the embedded server as one line."""
    try:
        return resolve_database_url(settings)
    except ConfigError:
        raise
    except Exception as exc:
        if not settings.embedded:
            raise
        folder = settings.data_dir / "postgres"
        if isinstance(exc, subprocess.CalledProcessError):
            reason = f"{Path(str(exc.cmd[0])).name} exited with status {exc.returncode}"
        else:
            reason = why(exc)
        log = folder / "log"
        where = f" (its log: {log})" if log.is_file() else ""
        raise ConfigError(
            f"cannot start the embedded PostgreSQL in {folder}: {reason}{where}"
        ) from None


async def connected_engine(settings: Settings, url: str) -> AsyncEngine:
    """An engine that has answered once, or a ConfigError saying why it cannot."""
    engine = build_engine(settings, url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except BaseException as exc:
        await engine.dispose()
        if not isinstance(exc, Exception):
            raise
        raise ConfigError(f"cannot connect to the database at {_where(url)}: {why(exc)}") from None
    return engine


async def check_connection(settings: Settings, url: str) -> None:
    engine = await connected_engine(settings, url)
    await engine.dispose()


def _where(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database}"


def why(exc: BaseException) -> str:
    """The first line of what went wrong, in the driver's words when the driver raised it."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S} s"
    cause: BaseException = exc
    if isinstance(exc, DBAPIError):
        # SQLAlchemy wraps asyncpg's exception twice; the innermost one says it plainly.
        cause = exc.orig.__cause__ or exc.orig if exc.orig is not None else exc
    message = str(cause).strip()
    return message.splitlines()[0] if message else type(cause).__name__


async def require_head(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        current = await migrations.current_revision(conn)
    head = migrations.head_revision()
    if current != head:
        raise ConfigError(
            f"the database is at migration {current or 'none'}, not {head}: "
            "run `python cli.py migrate` first"
        )


def _demo_login_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-login.txt"


def remember_demo_login(settings: Settings, login: tuple[str, str] | None) -> None:
    """Keep the embedded database's demo sign-in beside its data, readable only by us."""
    if login is None or not settings.embedded:
        return
    path = _demo_login_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # touch leaves an existing file's mode as it was
    path.write_text(f"{login[0]}\n{login[1]}\n")


def show_demo_login(settings: Settings, created: tuple[str, str] | None) -> None:
    """The password on the start that made it; later, where to find it (a password in
    every start's output ends up in terminal scrollback and collected logs)."""
    path = _demo_login_file(settings)
    if created is not None:
        username, password = created
        print(f"demo sign-in (admin): username {username!r}, password {password!r}", flush=True)
    elif settings.embedded and path.is_file():
        print(f"demo sign-in (admin): in {path}", flush=True)


async def prepare_embedded(settings: Settings, url: str) -> tuple[str, str] | None:
    """Embedded only: migrate to head and load the demo data into an empty database.

    Returns the demo admin's sign-in when this call loaded the data (and made it).
    """
    from db import seed

    engine = await connected_engine(settings, url)
    try:
        async with engine.connect() as conn:
            before = await migrations.current_revision(conn)
        if before != migrations.head_revision():
            await migrations.upgrade(engine)
            print(
                f"embedded database migrated to {migrations.head_revision()}",
                file=sys.stderr,
                flush=True,
            )
        if await seed.is_empty(engine):
            print("loading demo data (scale 1) into the embedded database…", file=sys.stderr)
            report = await seed.seed(engine, scale=1, progress=sys.stderr.isatty())
            print(report.summary(), file=sys.stderr, flush=True)
            remember_demo_login(settings, report.demo_login)
            return report.demo_login
    finally:
        await engine.dispose()
    return None


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a taken port is one clear line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
