"""The process's life, with real processes: a killed `serve`'s embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.processes import env, no_postgres_left, postgres_processes, serving


async def test_a_killed_serves_postgresql_is_stopped_and_started_afresh(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = env(STOREFRONT_DATA_DIR=str(data_dir))
    async with serving(settings, tmp_path / "killed") as served:
        await served.ready(within_s=180)  # first start: initdb, migrate, seed
        [orphan] = postgres_processes(data_dir)
        served.process.kill()
        await asyncio.to_thread(served.process.wait, 10)
    assert postgres_processes(data_dir) == [orphan], "kill -9 took the server with it"

    async with serving(settings, tmp_path / "again") as served:
        await served.ready(within_s=60)
        assert (await served.get("/readyz")).status_code == 200
        # One postmaster: the orphan was stopped before a fresh one started.
        [fresh] = postgres_processes(data_dir)
        assert fresh != orphan
        code = await served.stop(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, served.stderr
    assert "Traceback" not in served.stderr
    assert await no_postgres_left(data_dir), "the embedded server outlived serve"
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
