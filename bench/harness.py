"""Bring the bench up (database, servers, admin token, fixtures) and check the answers agree."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import database, queries, servers
from bench.database import BENCH, DATA, ROOT, BenchDatabase
from bench.queries import Fixtures, Query
from tests.pgbouncer_process import PgBouncer, find_executable, running

# PgBouncer's own default pool size: server connections per database and user, shared by
# all of Storefront's pools (2 x STOREFRONT_POOL_SIZE per worker) in transaction mode.
PGBOUNCER_SERVER_CONNECTIONS = 20

LOG_IN = """mutation BenchLogIn($login: String!, $password: String!) {
  logIn(input: {login: $login, password: $password}) { token userErrors { message } }
}"""
SIGN_UP = """mutation BenchSignUp($username: String!, $email: String!, $password: String!) {
  signUp(input: {username: $username, email: $email, password: $password}) {
    token userErrors { message }
  }
}"""
# Sent by the signed-in variants when no Storefront is up to sign in to: the others
# (PostGraphile, the floor) ignore the token of every query but (d).
PLACEHOLDER_TOKEN = "bench-reader-token-without-storefront"


@dataclass(frozen=True, slots=True)
class Pinning:
    server: str | None  # taskset CPU list for the servers under test
    db: str | None  # for PostgreSQL
    load: str | None  # for wrk

    @classmethod
    def default(cls, enabled: bool = True) -> Pinning:
        if not enabled or (os.cpu_count() or 1) < 2:
            return cls(None, None, None)
        return cls(server="0", db="0", load="1")


@dataclass
class Bench:
    db: BenchDatabase
    seed: database.SeedInfo
    pinning: Pinning
    servers: dict[str, servers.Server] = field(default_factory=dict)
    token: str | None = None  # the admin's, for (d)
    reader_token: str | None = None  # the reader's, for the signed-in variants
    fixtures: Fixtures | None = None
    notes: list[str] = field(default_factory=list)
    pooler: PgBouncer | None = None  # PgBouncer in front of the database, for Storefront
    resources: ExitStack = field(default_factory=ExitStack)  # closed after the servers stop

    def token_for(self, query: Query) -> str | None:
        """The bearer token `query`'s requests carry (to every server alike), if any."""
        if query.admin:
            return self.token
        return self.reader_token if query.signed_in else None

    def stop(self) -> None:
        try:
            for server in self.servers.values():
                server.stop()
        finally:
            self.resources.close()


def bring_up(
    names: list[str],
    scale: int,
    pinning: Pinning,
    reseed: bool = False,
    baseline_root: Path | None = None,
    *,
    workers: int = 1,
    pgbouncer: bool = False,
    reader: bool = False,
) -> Bench:
    """Database, servers (`baseline` from `baseline_root`), admin token and fixtures; with
    `reader`, the reader's token too (signed-in variants). `workers` and `pgbouncer`
    shape `storefront` alone: `serve --workers N`, and PgBouncer in transaction mode
    (pinned with PostgreSQL) between it and the database."""
    if "postgraphile" in names:
        servers.ensure_postgraphile_installed()
    servers.ensure_wrk()
    db = database.start()
    seed = database.prepare(db, scale, force=reseed)
    if "postgraphile" in names:
        asyncio.run(_install_postgraphile_functions(db))
    if pinning.db:
        servers.pin_tree(db.postmaster_pid, pinning.db)
    bench = Bench(db=db, seed=seed, pinning=pinning)
    try:
        if pgbouncer:
            bench.pooler = _start_pgbouncer(bench)
        for name in names:
            server = servers.make_server(
                name,
                db,
                baseline_root,
                workers=workers,
                pooled_url=bench.pooler.url if bench.pooler else None,
            )
            print(f"starting {name} on {server.url}…", file=sys.stderr, flush=True)
            server.start(pinning.server)
            bench.servers[name] = server
        bench.token = admin_token(bench)
        if reader:
            bench.reader_token = reader_token(bench)
        bench.fixtures = pick_fixtures(bench)
    except BaseException:
        bench.stop()
        raise
    return bench


def _start_pgbouncer(bench: Bench) -> PgBouncer:
    binary = find_executable()
    if binary is None:
        raise SystemExit("--pgbouncer needs pgbouncer (Debian: apt-get install -y pgbouncer)")
    pooler = bench.resources.enter_context(
        running(
            binary,
            bench.db.url,
            pool_mode="transaction",
            server_connections=PGBOUNCER_SERVER_CONNECTIONS,
        )
    )
    if bench.pinning.db:
        servers.pin_tree(pooler.pid, bench.pinning.db)
    print(f"PgBouncer (transaction mode) at {pooler.url}", file=sys.stderr, flush=True)
    return pooler


async def _install_postgraphile_functions(db: BenchDatabase) -> None:
    conn = await db.connect()
    try:
        await conn.execute((BENCH / "postgraphile" / "functions.sql").read_text())
    finally:
        await conn.close()


# --- sign-in ----------------------------------------------------------------------------------


def admin_token(bench: Bench) -> str:
    """A bearer token of an admin: logIn as the seed's admin, else as one the bench creates;
    minted straight into auth_tokens (as logIn would) while Storefront has no logIn yet."""
    candidates = [bench.seed.admin] if bench.seed.admin else []
    storefront = _a_storefront(bench)
    if storefront is not None:
        for login in [*candidates, None]:
            username, password = login or database.ensure_bench_admin(bench.db)
            answer = servers.post(
                storefront.url,
                {"query": LOG_IN, "variables": {"login": username, "password": password}},
            )
            token = ((answer.get("data") or {}).get("logIn") or {}).get("token")
            if token:
                return str(token)
            problem = json.dumps(answer.get("errors") or answer.get("data"))[:300]
            bench.notes.append(f"logIn as {username!r} gave no token: {problem}")
    username = bench.seed.admin[0] if bench.seed.admin else database.ensure_bench_admin(bench.db)[0]
    bench.notes.append(f"admin token for {username!r} minted directly (no working logIn)")
    return asyncio.run(_mint_token(bench.db, username))


def reader_token(bench: Bench) -> str:
    """A bearer token of the bench's reader (database.BENCH_READER), through the API as any
    user gets one: logIn, or signUp when the user does not exist yet (a fresh seed). The
    reader must have no posts and no orders, so that signed-in answers equal anonymous ones."""
    username, password, email = database.BENCH_READER
    storefront = _a_storefront(bench)
    if storefront is None:
        bench.notes.append(
            "no Storefront to sign in to: the signed-in variants carry a placeholder token"
        )
        return PLACEHOLDER_TOKEN
    token = None
    if asyncio.run(database.reader_rows(bench.db, username)) is None:
        variables = {"username": username, "email": email, "password": password}
        answer = servers.post(storefront.url, {"query": SIGN_UP, "variables": variables})
        token = ((answer.get("data") or {}).get("signUp") or {}).get("token")
        if not token:
            problem = json.dumps(answer.get("errors") or answer.get("data"))[:300]
            raise SystemExit(f"signUp as {username!r} gave no token: {problem}")
    else:
        answer = servers.post(
            storefront.url,
            {"query": LOG_IN, "variables": {"login": username, "password": password}},
        )
        token = ((answer.get("data") or {}).get("logIn") or {}).get("token")
        if not token:
            problem = json.dumps(answer.get("errors") or answer.get("data"))[:300]
            raise SystemExit(f"logIn as {username!r} gave no token: {problem}")
    rows = asyncio.run(database.reader_rows(bench.db, username))
    if rows != (0, 0):
        raise SystemExit(
            f"the bench reader {username!r} must have no posts and no orders, has {rows}"
        )
    return str(token)


async def _mint_token(db: BenchDatabase, username: str) -> str:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from db.accounts import issue_token
    from db.engine import make_engine, make_sessionmaker

    engine = make_engine(db.url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with make_sessionmaker(engine).begin() as session:
            user_id = (
                await session.execute(
                    text("SELECT id FROM users WHERE lower(username) = lower(:name)"),
                    {"name": username},
                )
            ).scalar_one()
            return await issue_token(session, user_id, ttl=timedelta(days=2))
    finally:
        await engine.dispose()


# --- fixtures ---------------------------------------------------------------------------------


def pick_fixtures(bench: Bench) -> Fixtures:
    picked = asyncio.run(database.pick_fixtures(bench.db))
    global_id = _guess_global_id("Post", picked.post_row_id)
    storefront = _a_storefront(bench)
    if storefront is not None:
        answer = servers.post(
            storefront.url, {"query": "{ posts(first: 7) { edges { node { id title } } } }"}
        )
        try:
            node = answer["data"]["posts"]["edges"][6]["node"]
            if node["title"] == picked.post_title:
                global_id = node["id"]
            else:
                bench.notes.append(
                    f"Storefront's 7th newest post is {node['title']!r}, "
                    f"the database's {picked.post_title!r}"
                )
        except (KeyError, IndexError, TypeError):
            bench.notes.append(f"post ID guessed as {global_id!r} (Storefront has no posts yet)")
    return Fixtures(
        username=picked.username, post_row_id=picked.post_row_id, post_global_id=global_id
    )


def _a_storefront(bench: Bench) -> servers.Server | None:
    """This checkout's Storefront, else the baseline's (the same database either way)."""
    return bench.servers.get("storefront") or bench.servers.get(servers.BASELINE)


def _guess_global_id(type_name: str, row_id: int) -> str:
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


# --- result checker ---------------------------------------------------------------------------


@dataclass
class Check:
    server: str
    query: str
    ok: bool = False
    detail: str = ""
    statements: int | None = None  # SQL statements Storefront reported (a warm request)
    cold_statements: int | None = None  # ... for the first request, when that differed
    canonical: Any = None
    errors: bool = False  # the response carried GraphQL errors (not worth timing)

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"


def check_all(bench: Bench, selected: list[Query]) -> dict[tuple[str, str], Check]:
    """Fetch each query once from every server; the answer most servers agree on (the floor's
    on a tie) is the reference, and a server that errs or differs from it is FAILED."""
    assert bench.fixtures is not None
    results: dict[tuple[str, str], Check] = {}
    for query in selected:
        checks = [_fetch(bench, name, query) for name in bench.servers]
        answers = [c for c in checks if not c.errors and c.detail == ""]
        reference = _reference(answers)
        for c in checks:
            if c.errors or c.detail:
                pass
            elif c.canonical == reference:
                c.ok = True
                c.detail = f"{_size(c.canonical)} agrees"
            else:
                c.detail = "differs: " + _first_difference(reference, c.canonical)
            results[(c.server, query.id)] = c
        _save_answers(query, checks)
    return results


def serve_as_deployed(bench: Bench, selected: list[Query]) -> None:
    """Restart each Storefront server (this checkout's and the baseline) without
    STOREFRONT_DEBUG_SQL, once the checks have read its statement counts.

    Debug SQL times every statement and writes the timings into every response's
    `extensions`: a diagnostic that production leaves off, which timed runs must not
    pay for. Each query is then asked once, so that caches are as warm as the checks
    left them (documents, the token, prepared statements) before idle RSS is read.
    """
    assert bench.fixtures is not None
    for name in ("storefront", servers.BASELINE):
        server = bench.servers.get(name)
        if server is None or "STOREFRONT_DEBUG_SQL" not in server.env:
            continue
        server.stop()
        server.env = {k: v for k, v in server.env.items() if k != "STOREFRONT_DEBUG_SQL"}
        server.start(bench.pinning.server)
        for query in selected:
            body = query.body(name, bench.fixtures)
            answer = servers.post(server.url, body, token=bench.token_for(query))
            if "extensions" in answer and "sqlStatements" in answer["extensions"]:
                raise SystemExit(f"{name} still reports its SQL after the restart")


def _fetch(bench: Bench, name: str, query: Query) -> Check:
    assert bench.fixtures is not None
    result = Check(server=name, query=query.label)
    token = bench.token_for(query)
    answer = servers.post(bench.servers[name].url, query.body(name, bench.fixtures), token=token)
    result.statements = _statement_count(answer.get("extensions"))
    if result.statements is not None:  # the first request may warm caches: count a second
        again = servers.post(bench.servers[name].url, query.body(name, bench.fixtures), token=token)
        warm = _statement_count(again.get("extensions"))
        if warm is not None and warm != result.statements:
            result.cold_statements, result.statements = result.statements, warm
    if answer.get("errors"):
        result.errors = True
        result.detail = "errors: " + "; ".join(
            str(e.get("message"))[:160] for e in answer["errors"][:3]
        )
        return result
    try:
        result.canonical = query.canonical(name, answer["data"])
    except (KeyError, TypeError, IndexError) as exc:
        result.detail = f"unexpected shape ({type(exc).__name__}: {exc})"
    if result.canonical is None or result.canonical == []:
        result.detail = result.detail or "empty answer (no data to compare)"
    return result


def _reference(answers: list[Check]) -> Any:
    if not answers:
        return None
    votes = Counter(json.dumps(a.canonical, default=str) for a in answers)
    best = max(votes.values())
    for preferred in ("floor", "postgraphile", "storefront", servers.BASELINE):
        for a in answers:
            if a.server == preferred and votes[json.dumps(a.canonical, default=str)] == best:
                return a.canonical
    return answers[0].canonical


def _statement_count(extensions: Any) -> int | None:
    """The SQL statements the request ran, from `extensions.sqlStatements`: Storefront adds
    it to every response under STOREFRONT_DEBUG_SQL=1 (the bench starts it so)."""
    if isinstance(extensions, dict):
        value = extensions.get("sqlStatements")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _size(value: Any) -> str:
    return f"{len(value)} rows" if isinstance(value, list) else "1 row"


def _first_difference(expected: Any, actual: Any, path: str = "") -> str:
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return f"{path or 'top'}: {len(actual)} items, expected {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            if e != a:
                return _first_difference(e, a, f"{path}[{i}]")
    return f"{path or 'top'}: {str(actual)[:120]} != expected {str(expected)[:120]}"


def _save_answers(query: Query, checks: list[Check]) -> None:
    folder: Path = DATA / "answers"
    folder.mkdir(parents=True, exist_ok=True)
    for c in checks:
        path = folder / f"{query.label}-{c.server}.json"
        path.write_text(json.dumps(c.canonical, default=str, indent=1))


ALL_QUERIES = queries.ALL
