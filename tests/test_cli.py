"""The command line, run as a user runs it: `python cli.py ...` in a child process."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text

from db import migrations
from db.accounts import verify_password
from db.engine import make_engine
from serving import HEAD_TIMEOUT_S
from tests.processes import ROOT, TYPENAME, no_postgres_left, postgres_processes, serving
from tests.processes import env as _env

CreateDatabase = Callable[[], Awaitable[str]]
UNREACHABLE = "postgresql+asyncpg://u:p@127.0.0.1:1/db"


async def cli(
    *args: str, env: dict[str, str], stdin: str | None = None, script: str = "cli.py"
) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, script, *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=180,
            start_new_session=True,  # no controlling terminal: getpass cannot reach one
        )

    return await asyncio.to_thread(run)


def assert_one_error_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert fragment in lines[0], lines[0]


async def _scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one_or_none()
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await migrations.current_revision(conn)
    finally:
        await engine.dispose()


@pytest.fixture
async def fresh_url(create_database: CreateDatabase) -> str:
    """A private, empty database: no migration applied."""
    return await create_database()


@pytest.fixture
async def migrated_url(fresh_url: str) -> str:
    engine = make_engine(fresh_url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    return fresh_url


async def test_help_for_every_command() -> None:
    commands = [[], ["serve"], ["migrate"], ["seed"], ["create-admin"], ["export-schema"]]
    results = await asyncio.gather(*(cli(*command, "--help", env=_env()) for command in commands))
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, (command, result)
        assert result.stdout.startswith("usage: cli.py"), command
        assert result.stderr == "", command


async def test_app_py_runs_the_same_command_line() -> None:
    """`python app.py ...`, written before cli.py existed, keeps working."""
    for command in (["--help"], ["serve", "--help"], ["export-schema", "--check"]):
        via_cli, via_app = await asyncio.gather(
            cli(*command, env=_env()), cli(*command, env=_env(), script="app.py")
        )
        assert via_cli.returncode == 0, via_cli
        assert (via_app.returncode, via_app.stdout, via_app.stderr) == (
            via_cli.returncode,
            via_cli.stdout,
            via_cli.stderr,
        ), command


async def test_migrate_brings_a_fresh_database_to_head(fresh_url: str) -> None:
    env = _env(DATABASE_URL=fresh_url)
    result = await cli("migrate", env=env)
    assert result.returncode == 0, result
    assert migrations.head_revision() in result.stdout
    assert await _revision(fresh_url) == migrations.head_revision()
    assert_one_error_line(await cli("migrate", "--down", "nowhere", env=env), "nowhere")


async def test_two_migrates_at_once_both_bring_the_database_to_head(fresh_url: str) -> None:
    """Two deployments running `migrate` together (an init step per instance): the second
    waits for the first's transaction, then finds nothing left to do. To start them at
    the same moment, both are held at the (empty) revision table until both wait."""
    dsn = make_url(fresh_url).set(drivername="postgresql").render_as_string(False)
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute(
            "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,"
            " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        await holder.execute("BEGIN; LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        env = _env(DATABASE_URL=fresh_url, STOREFRONT_STATEMENT_TIMEOUT_MS="120000")
        runs = asyncio.gather(cli("migrate", env=env), cli("migrate", env=env))
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
        for _ in range(600):
            if await holder.fetchval(waiting) == 2 or runs.done():
                break
            await asyncio.sleep(0.1)
        await holder.execute("ROLLBACK")
        results = await runs
    finally:
        await holder.close()
    for result in results:
        assert result.returncode == 0, result
    assert await _revision(fresh_url) == migrations.head_revision()


async def test_seed_refuses_a_second_time_unless_told_to_replace(migrated_url: str) -> None:
    env = _env(DATABASE_URL=migrated_url)
    result = await cli("seed", "--scale", "1", env=env)
    assert result.returncode == 0, result
    assert "20,000" in result.stdout
    assert re.search(r"demo sign-in \(admin\): username 'admin', password '\w{16}'", result.stdout)
    assert await _scalar(migrated_url, "SELECT count(*) FROM posts") == 20_000

    again = await cli("seed", env=env)
    assert again.returncode != 0
    assert_one_error_line(again, "--replace")

    replaced = await cli("seed", "--replace", "--random-seed", "2", env=env)
    assert replaced.returncode == 0, replaced
    assert await _scalar(migrated_url, "SELECT count(*) FROM users") == 2_000


async def test_seed_wants_a_migrated_database(fresh_url: str) -> None:
    result = await cli("seed", env=_env(DATABASE_URL=fresh_url))
    assert_one_error_line(result, "run `python cli.py migrate` first")


async def test_create_admin_with_a_password(migrated_url: str) -> None:
    env = _env(DATABASE_URL=migrated_url)
    password = "correct horse battery"
    args = ("create-admin", "--username", "Root", "--email", "root@example.com")
    result = await cli(*args, "--password", password, env=env)
    assert result.returncode == 0, result
    assert "created" in result.stdout

    engine = make_engine(migrated_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT is_admin, password_hash FROM users"))).one()
    finally:
        await engine.dispose()
    assert row.is_admin is True
    assert row.password_hash.startswith("$argon2id$")
    assert password not in row.password_hash
    assert await verify_password(row.password_hash, password)


async def test_create_admin_refuses_bad_input(migrated_url: str) -> None:
    cases = [
        ("no spaces", "a@example.com", "long enough", "username must be"),
        ("ab", "a@example.com", "long enough", "username must be"),
        ("fine_name", "not-an-email", "long enough", "email"),
        ("fine_name", "a@example.com", "short", "at least 8"),
    ]
    results = await asyncio.gather(
        *(
            cli(*_admin(username, email, password), env=_env(DATABASE_URL=migrated_url))
            for username, email, password, _ in cases
        )
    )
    for (*_, fragment), result in zip(cases, results, strict=True):
        assert_one_error_line(result, fragment)
    assert await _scalar(migrated_url, "SELECT count(*) FROM users") == 0


async def test_create_admin_refuses_a_taken_name(migrated_url: str) -> None:
    env = _env(DATABASE_URL=migrated_url)
    assert (await cli(*_admin("root", "root@example.com", "long enough"), env=env)).returncode == 0
    case_of_username, case_of_email = await asyncio.gather(
        cli(*_admin("ROOT", "other@example.com", "long enough"), env=env),
        cli(*_admin("other", "Root@Example.com", "long enough"), env=env),
    )
    assert_one_error_line(case_of_username, "username already taken")
    assert_one_error_line(case_of_email, "email already taken")
    assert await _scalar(migrated_url, "SELECT count(*) FROM users") == 1


def _admin(username: str, email: str, password: str) -> tuple[str, ...]:
    return ("create-admin", "--username", username, "--email", email, "--password", password)


async def test_create_admin_reads_a_piped_password(migrated_url: str) -> None:
    env = _env(DATABASE_URL=migrated_url)
    args = ("create-admin", "--username", "piper", "--email", "piper@example.com")
    result = await cli(*args, env=env, stdin="from standard input\n")
    assert result.returncode == 0, result
    stored = await _scalar(migrated_url, "SELECT password_hash FROM users")
    assert await verify_password(stored, "from standard input")

    nothing = await cli(*args[:2], "nobody", "--email", "n@example.com", env=env, stdin="")
    assert_one_error_line(nothing, "no password")


def test_the_readme_shows_a_first_start_migrating_to_the_newest_revision() -> None:
    """The Quick start's sample output is what a newcomer compares theirs with."""
    readme = (ROOT / "README.md").read_text()
    assert f"\nembedded database migrated to {migrations.head_revision()}\n" in readme


async def test_export_schema_to_standard_output() -> None:
    result = await cli("export-schema", "--output", "-", env=_env())
    assert result.returncode == 0, result
    assert "type Query {" in result.stdout


async def test_bad_configuration_is_one_line() -> None:
    serve = ["serve", "--port", "0"]
    cases: list[tuple[dict[str, str], list[str], str]] = [
        ({"DATABASE_URL": "nonsense"}, ["migrate"], "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "nonsense"}, serve, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, ["seed"], "needs PostgreSQL"),
        ({"DATABASE_URL": UNREACHABLE}, ["migrate"], "cannot connect to the database"),
        ({"DATABASE_URL": UNREACHABLE}, serve, "cannot connect to the database"),
        ({"STOREFRONT_POOL_SIZE": "many"}, ["migrate"], "STOREFRONT_POOL_SIZE"),
        ({"STOREFRONT_POOL_SIZE": "many"}, serve, "STOREFRONT_POOL_SIZE"),
        ({"STOREFRONT_LOG_LEVEL": "chatty"}, serve, "STOREFRONT_LOG_LEVEL"),
        ({"STOREFRONT_GRAPHIQL": "maybe"}, serve, "STOREFRONT_GRAPHIQL"),
        ({"STOREFRONT_DATABASE_POOLER": "pgpool"}, serve, "STOREFRONT_DATABASE_POOLER"),
        ({"STOREFRONT_WORKERS": "0"}, serve, "STOREFRONT_WORKERS"),
        (
            {"DATABASE_URL": UNREACHABLE, "STOREFRONT_DATABASE_POOLER": "pgbouncer-transaction"},
            serve,
            "needs DATABASE_DIRECT_URL",
        ),
        # Each worker keeps its own metrics: without the shared folder a scrape would
        # see none of them (a port of its own) or one worker's at random (the API's).
        (
            {"DATABASE_URL": UNREACHABLE, "STOREFRONT_METRICS_PORT": "0"},
            [*serve, "--workers", "2"],
            "needs PROMETHEUS_MULTIPROC_DIR",
        ),
        (
            {"DATABASE_URL": UNREACHABLE, "STOREFRONT_METRICS": "1", "STOREFRONT_WORKERS": "2"},
            serve,
            "needs PROMETHEUS_MULTIPROC_DIR",
        ),
    ]
    results = await asyncio.gather(
        *(cli(*command, env=_env(**settings)) for settings, command, _ in cases)
    )
    for (settings, command, fragment), result in zip(cases, results, strict=True):
        try:
            assert_one_error_line(result, fragment)
        except AssertionError as failure:
            raise AssertionError(f"{settings} {command}: {failure}") from None


async def test_a_taken_port_is_one_line(fresh_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await cli("serve", "--port", str(port), env=_env(DATABASE_URL=fresh_url))
    assert_one_error_line(result, f"cannot listen on 127.0.0.1:{port}")


async def test_an_embedded_server_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "data" / "postgres"
    broken.mkdir(parents=True)
    (broken / "PG_VERSION").write_text("1\n")  # a data folder of no real version
    result = await cli("migrate", env=_env(STOREFRONT_DATA_DIR=str(tmp_path / "data")))
    assert_one_error_line(result, "cannot start the embedded PostgreSQL")


# --- serve ----------------------------------------------------------------------------------


async def test_serve_with_database_url_changes_nothing(fresh_url: str, tmp_path: Path) -> None:
    async with serving(_env(DATABASE_URL=fresh_url), tmp_path) as served:
        await served.ready(within_s=60)
        readyz = await served.get("/readyz")
        assert readyz.status_code == 503
        assert "none" in readyz.json()["reason"]
        healthz = await served.get("/healthz")
        assert healthz.status_code == 200
        # What runs here is nobody's business: no `server: uvicorn`. Date stays (RFC 9110).
        assert "server" not in healthz.headers
        assert "date" in healthz.headers
        assert await _revision(fresh_url) is None
        assert (
            await _scalar(fresh_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            == 0
        )

        code = await served.stop(signal.SIGINT)
    assert code in (0, 130), served.stderr
    assert "Traceback" not in served.stderr


async def test_serve_refuses_headers_past_its_limit_with_431(
    fresh_url: str, tmp_path: Path
) -> None:
    """httptools keeps a header until its line ends, however long: without a bound, one
    request of a 200 MB header held 200 MB of the process, and was then answered."""
    async with serving(_env(DATABASE_URL=fresh_url), tmp_path) as served:
        await served.ready(within_s=60)
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            refused = await client.post(
                "/graphql", json=TYPENAME, headers={"x-padding": "x" * 100_000}
            )
            fits = await client.post("/graphql", json=TYPENAME, headers={"x-padding": "x" * 8_000})
    assert refused.status_code == 431, refused.text
    assert refused.headers["x-request-id"]
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert fits.json() == {"data": {"__typename": "Query"}}


async def test_serve_closes_a_connection_that_sends_no_whole_head_in_time(
    fresh_url: str, tmp_path: Path
) -> None:
    """Slowloris: connections that send nothing, or trickle a header, must not hold a
    file descriptor each for ever."""

    async def answer(sent: bytes) -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        started = asyncio.get_running_loop().time()
        writer.write(sent)
        try:
            answered = await asyncio.wait_for(reader.read(), HEAD_TIMEOUT_S + 5)
        finally:
            writer.close()
        return answered, asyncio.get_running_loop().time() - started

    async def answer_after_one(sent: bytes) -> tuple[bytes, float]:
        """`sent` as a keep-alive connection's second request, after a first answered."""
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert first.startswith(b"HTTP/1.1 200 "), first
            length = re.search(rb"content-length: (\d+)", first)
            assert length is not None, first
            await asyncio.wait_for(reader.readexactly(int(length[1])), 10)
            started = asyncio.get_running_loop().time()
            writer.write(sent)
            answered = await asyncio.wait_for(reader.read(), HEAD_TIMEOUT_S + 5)
        finally:
            writer.close()
        return answered, asyncio.get_running_loop().time() - started

    slow = b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: a"
    async with serving(_env(DATABASE_URL=fresh_url), tmp_path) as served:
        await served.ready(within_s=60)
        answers = await asyncio.gather(answer(b""), answer(slow), answer_after_one(slow))
    for answered, took in answers:
        assert answered.startswith(b"HTTP/1.1 408 "), answered
        assert b"x-request-id: " in answered, answered
        assert took < HEAD_TIMEOUT_S + 2, f"closed after {took:.1f} s"


async def test_embedded_serve_migrates_seeds_stops_and_keeps_its_data(
    data_dir: Path, tmp_path: Path
) -> None:
    env = _env(STOREFRONT_DATA_DIR=str(data_dir))
    async with serving(env, tmp_path / "first") as served:
        await served.ready(within_s=120)  # first start: initdb, migrate, seed scale 1
        assert (await served.get("/readyz")).status_code == 200
        login = (data_dir / "demo-login.txt").read_text().split()
        assert login[0] == "admin"
        assert (data_dir / "demo-login.txt").stat().st_mode & 0o077 == 0
        assert f"password {login[1]!r}" in served.out.read_text()
        assert postgres_processes(data_dir)
        code = await served.stop(signal.SIGINT)
    assert code in (0, 130), served.stderr
    assert "Traceback" not in served.stderr
    assert await no_postgres_left(data_dir), "the embedded server outlived serve"

    async with serving(env, tmp_path / "second") as served:
        await served.ready(within_s=60)
        assert "loading demo data" not in served.stderr
        # The password only on the start that made it; later, where it is kept.
        assert login[1] not in served.out.read_text() + served.stderr
        assert f"demo sign-in (admin): in {data_dir / 'demo-login.txt'}" in served.out.read_text()
        assert (await served.get("/readyz")).status_code == 200
        users, admin_hash = await _embedded_rows(data_dir / "postgres")
        assert users == 2_000
        assert await verify_password(admin_hash, login[1])
        code = await served.stop(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, served.stderr
    assert "Traceback" not in served.stderr
    assert await no_postgres_left(data_dir), "the embedded server outlived serve"


async def _embedded_rows(pgdata: Path) -> tuple[int, str]:
    # postmaster.pid's fifth line is the folder of the server's socket.
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        users = await conn.fetchval("SELECT count(*) FROM users")
        admin_hash = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'admin'")
    finally:
        await conn.close()
    return int(users), str(admin_hash)
