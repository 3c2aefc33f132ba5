"""Fuzz /graphql with 10,000 hypothesis examples; list every kind of violation found.

    uv run python bench/fuzz.py [--examples 10000] [--seed N] [--log fuzz.log]

The requests and the rules are tests/fuzzing.py's (tests/test_fuzz.py runs a few
hundred of them in the suite): no 5xx, an x-request-id on every answer, a JSON object
with data and/or errors, no INTERNAL_SERVER_ERROR. The app runs in this process over
httpx's ASGI transport, on a fresh database (on TEST_DATABASE_URL's server, or on an
embedded PostgreSQL in a temporary folder) that is dropped at the end. Exits 1 when
anything was found.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests`, `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from sqlalchemy import make_url

from app import build_engine, create_app
from db import embedded, migrations
from db.engine import make_sessionmaker
from settings import Settings
from tests import fuzzing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=10_000, help="requests to send (10000)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (random)")
    parser.add_argument(
        "--log", type=Path, default=None, help="write the app's log here (default: discarded)"
    )
    return parser.parse_args(argv)


async def _admin(server_url: str, sql: str) -> None:
    url = make_url(server_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated database; dropped (and an embedded server stopped) at the end."""
    configured = os.environ.get("TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="storefront-fuzz-") as folder:
        data = Path(folder) / "data"
        if configured:
            server_url = configured.replace("postgresql://", "postgresql+asyncpg://", 1)
        else:
            print("starting an embedded PostgreSQL ...", file=sys.stderr, flush=True)
            server_url = embedded.start(data)
        name = f"storefront_fuzz_{uuid.uuid4().hex[:10]}"
        try:
            await _admin(server_url, f'CREATE DATABASE "{name}"')
            url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
            engine = build_engine(Settings(), url)
            try:
                await migrations.upgrade(engine)
            finally:
                await engine.dispose()
            yield url
        finally:
            await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not configured:
                embedded.stop(data)


def _quiet_logs(path: Path | None) -> None:
    """The app logs every unexpected error with its traceback: to a file, or nowhere."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if path is None:
        root.addHandler(logging.NullHandler())
        logging.getLogger("storefront").propagate = False
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


async def fuzz(examples: int, random_seed: int | None) -> fuzzing.Findings:
    findings = fuzzing.Findings()
    async with fresh_database() as url:
        app_settings = Settings(database_url=url)
        app = create_app(app_settings, url)
        engine = build_engine(app_settings, url)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://fuzz", timeout=60
                ) as client,
                make_sessionmaker(engine)() as session,
            ):
                tokens = await fuzzing.seed(session)
                loop = asyncio.get_running_loop()
                started = time.monotonic()

                def progress(final: bool = False) -> None:
                    elapsed = time.monotonic() - started
                    rate = findings.requests / elapsed if elapsed else 0.0
                    print(
                        f"\r{findings.requests:>6}/{examples} requests  {rate:5.1f}/s  "
                        f"{sum(findings.counts.values())} violations of "
                        f"{len(findings.counts)} kinds",
                        end="\n" if final else "",
                        file=sys.stderr,
                        flush=True,
                    )

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(request=fuzzing.requests())
                def run(request: fuzzing.FuzzRequest) -> None:
                    sent = fuzzing.send(client, session, tokens, request, findings)
                    asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=120)
                    if findings.requests % 25 == 0:
                        progress()

                if random_seed is not None:
                    run = seed(random_seed)(run)
                await asyncio.to_thread(run)
                progress(final=True)
        finally:
            await engine.dispose()
    return findings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet_logs(args.log)
    findings = asyncio.run(fuzz(args.examples, args.seed))
    if not findings.counts:
        print(f"no violations in {findings.requests} requests")
        return 0
    print(findings.report())
    return 1


if __name__ == "__main__":
    sys.exit(main())
