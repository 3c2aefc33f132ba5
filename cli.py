"""Storefront's command line: `python cli.py --help` lists the commands.

`python app.py ...` runs it too, as it did before the command line had a home of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

import logs
import startup
from app import create_app
from db import embedded, migrations
from db.engine import make_sessionmaker
from schema import build_schema, export
from schema.query import Query
from settings import ConfigError, Settings


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    url = startup.database_url(settings)
    engine = await startup.connected_engine(settings, url)
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

    url = startup.database_url(settings)
    engine = await startup.connected_engine(settings, url)
    try:
        await startup.require_head(engine)
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
    startup.remember_demo_login(settings, report.demo_login)


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
    url = startup.database_url(settings)
    engine = await startup.connected_engine(settings, url)
    try:
        await startup.require_head(engine)
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
        print("run `python cli.py export-schema` and commit the result", file=sys.stderr)
        return 1
    print(f"{' and '.join(str(path) for path in files)} match what the code serves")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace, query: type = Query) -> None:
    """`serve`, of the API, or with another root query type (tests add slow fields)."""
    workers = args.workers or settings.workers
    if workers > 1 and settings.metrics and settings.metrics_multiprocess_dir is None:
        # Each worker counts in its own memory: /metrics on a port of its own would show
        # none of it, and on the API's port one worker's at random.
        raise ConfigError(
            f"metrics with {workers} workers needs PROMETHEUS_MULTIPROC_DIR: an empty"
            " folder where the workers keep the metrics /metrics reads together"
        )
    sock = startup.bind(args.host, args.port)
    try:
        url = startup.database_url(settings)
    except BaseException:
        sock.close()
        raise
    try:
        _serve(settings, sock, url, query, workers=workers)
    finally:
        sock.close()
        if settings.embedded:
            # Now rather than at exit, and with the signals that stop serving ignored:
            # a terminal and `uv run` each deliver a Ctrl-C.
            with _signals_ignored():
                embedded.stop(settings.data_dir / "postgres")


def _serve(settings: Settings, sock: socket.socket, url: str, query: type, workers: int) -> None:
    import serving  # uvicorn: only `serve` pays for importing it
    from workers import run_workers

    created = None
    if settings.embedded:
        created = asyncio.run(startup.prepare_embedded(settings, url))
    else:
        # Only a check: with DATABASE_URL, serving never changes the database.
        asyncio.run(startup.check_connection(settings, url))
    if settings.metrics_multiprocess_dir is not None:
        serving.clear_metrics(settings.metrics_multiprocess_dir)
    app = create_app(settings, url, query=query)
    host, port = sock.getsockname()[:2]
    shown = f"http://{_shown_host(host)}:{port}/graphql"
    print(f"Storefront serving {shown}", flush=True)
    if settings.graphiql_enabled:
        print(f"GraphiQL: open {shown} in a browser", flush=True)
    startup.show_demo_login(settings, created)
    if settings.metrics_port is not None:
        # From this process, before any worker is forked: with --workers it reads
        # every worker's files in the multiprocess folder.
        metrics_host, metrics_port = serving.serve_metrics(
            host, settings.metrics_port, settings.metrics_multiprocess_dir
        )
        print(f"metrics: http://{_shown_host(metrics_host)}:{metrics_port}/metrics", flush=True)
    serve_one = functools.partial(
        serving.serve,
        app,
        sock,
        log_level=settings.log_level,
        grace_s=settings.shutdown_grace_s,
        max_message_bytes=settings.max_body_bytes,
        # Workers leave the embedded PostgreSQL to the parent, which stops it (cmd_serve)
        # once they are all gone, even after one whose shutdown overran.
        abandon=(lambda: _abandon(settings)) if workers == 1 else (lambda: None),
    )
    if workers == 1:
        serve_one()
    else:
        run_workers(workers, sock, serve_one, grace_s=settings.shutdown_grace_s)


def _shown_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cli.py",
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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port to listen on, 0 for any free one (%(default)s)",
    )
    serve.add_argument(
        "--workers", type=_positive_int, help="processes on the port (STOREFRONT_WORKERS, 1)"
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
        help="1 is 2,000 users, 20,000 posts, 10,000 orders; N is N times that (%(default)s)",
    )
    seed.add_argument(
        "--random-seed", type=int, default=1, help="seed of the generator (%(default)s)"
    )
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
        "'-' writes only the SDL, to standard output (%(default)s)",
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


def main(argv: list[str] | None = None, *, query: type = Query) -> int:
    """Run one command; a configuration problem is one line `error: ...` and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level, settings.log_format)
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
        print(f"error: the database refused: {startup.why(exc)}", file=sys.stderr)
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
