"""Load with wrk: one run at a fixed concurrency, with the server's CPU and memory around it."""

from __future__ import annotations

import json
import resource
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import servers
from bench.database import BENCH

POST_LUA = BENCH / "wrk" / "post.lua"
MIX_LUA = BENCH / "wrk" / "mix.lua"


@dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, non-2xx statuses, timeouts, GraphQL errors (mix only)
    user_errors: int
    server_cpu_s: float  # utime + stime of the server's processes during the run
    db_cpu_s: float  # of every PostgreSQL process during the run, and PgBouncer's if any
    server_rss_mb: float  # after the run (summed over `--workers N`'s processes)
    db_rss_mb: float
    wrk_cpu_s: float  # the load tool's own CPU time
    other_cpu_pct: float  # CPU that neither the server, PostgreSQL nor wrk used, % of one core
    pooler_cpu_s: float = 0.0  # PgBouncer's part of db_cpu_s (run.py --pgbouncer)

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        return self.server_cpu_s * 1000 / self.requests if self.requests else None

    @property
    def db_cpu_ms_per_request(self) -> float | None:
        return self.db_cpu_s * 1000 / self.requests if self.requests else None

    def to_json(self) -> dict[str, object]:
        return {
            **asdict(self),
            "server_cpu_ms_per_request": self.server_cpu_ms_per_request,
            "db_cpu_ms_per_request": self.db_cpu_ms_per_request,
        }


def wrk(
    url: str,
    script: Path,
    script_args: list[str],
    *,
    concurrency: int,
    seconds: float,
    cpus: str | None,
    timeout_s: int = 10,
) -> dict[str, float]:
    """Run wrk once; the numbers its script's done() printed."""
    command = [
        servers.ensure_wrk(),
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *script_args,
    ]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, float] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result
    raise RuntimeError(
        f"wrk printed no result (exit {done.returncode}):\n{done.stdout}{done.stderr}"
    )


def measure(
    server: servers.Server,
    postmaster: int,
    script: Path,
    script_args: list[str],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    cpus: str | None,
    drain: bool = True,
    pooler: int | None = None,
) -> LoadResult:
    """Warm up (discarded), then one measured run with CPU read from /proc around it.
    With `drain`, first wait for the server to finish what earlier runs left queued.
    `pooler`: PgBouncer's pid, when the server reaches PostgreSQL through it."""
    if drain:
        wait_idle(server, postmaster, pooler)
    if warmup > 0:
        wrk(server.url, script, script_args, concurrency=concurrency, seconds=warmup, cpus=cpus)
        if drain:
            wait_idle(server, postmaster, pooler)
    cpu_before = server.cpu_seconds()
    db_before = servers.db_cpu_seconds(postmaster)
    pooler_before = _pooler_cpu(pooler)
    busy_before = servers.machine_busy_seconds()
    wrk_before = _children_cpu()
    raw = wrk(server.url, script, script_args, concurrency=concurrency, seconds=seconds, cpus=cpus)
    wrk_cpu = _children_cpu() - wrk_before
    busy = servers.machine_busy_seconds() - busy_before
    server_cpu = server.cpu_seconds() - cpu_before
    pooler_cpu = _pooler_cpu(pooler) - pooler_before
    db_cpu = servers.db_cpu_seconds(postmaster) - db_before + pooler_cpu
    elapsed = raw["duration_us"] / 1e6
    other = max(0.0, busy - server_cpu - db_cpu - wrk_cpu)
    requests = int(raw["requests"])
    return LoadResult(
        requests=requests,
        seconds=elapsed,
        rps=requests / elapsed if elapsed else 0.0,
        mean_ms=raw["mean_us"] / 1000,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=int(
            raw["socket_errors"] + raw["status_errors"] + raw["timeouts"] + raw["graphql_errors"]
        ),
        user_errors=int(raw.get("user_errors", 0)),
        server_cpu_s=server_cpu,
        db_cpu_s=db_cpu,
        server_rss_mb=server.rss_bytes() / 2**20,
        db_rss_mb=servers.db_rss_bytes(postmaster) / 2**20,
        wrk_cpu_s=wrk_cpu,
        other_cpu_pct=100 * other / elapsed if elapsed else 0.0,
        pooler_cpu_s=pooler_cpu,
    )


def _pooler_cpu(pid: int | None) -> float:
    return servers.cpu_seconds(pid) if pid is not None else 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_idle(
    server: servers.Server, postmaster: int, pooler: int | None = None, timeout: float = 60.0
) -> None:
    """Wait until the server and PostgreSQL stop burning CPU: requests queued by the previous
    run (wrk stops sending, not the server working) must not be billed to the next one."""

    def busy() -> float:
        return server.cpu_seconds() + servers.db_cpu_seconds(postmaster) + _pooler_cpu(pooler)

    deadline = time.monotonic() + timeout
    last = busy()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        current = busy()
        if current - last < 0.02:  # under ~7% of a core
            return
        last = current
