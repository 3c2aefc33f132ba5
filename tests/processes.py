"""Storefront run as a user runs it, in a child process: `python cli.py serve ...`."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
TYPENAME = {"query": "{ __typename }"}
APP = ("cli.py",)
SLOW_APP = ("-m", "tests.slow_app")  # cli.py's serve, with slow fields (tests/slow_app.py)


def env(**settings: str) -> dict[str, str]:
    """This process's environment without any Storefront setting, plus `settings`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("STOREFRONT_")
    }
    return {**inherited, **settings}


class Served:
    def __init__(self, process: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.process, self.out, self.err = process, out, err
        self.url = ""

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    async def ready(self, within_s: float, *, probe: str = "/graphql") -> None:
        """Wait for the address line, then for `probe` to answer: `{ __typename }` on
        /graphql, or 200 from a GET of another path (`/readyz` in trusted-documents
        mode, which refuses any document outside its manifest)."""
        deadline = time.monotonic() + within_s
        while not (found := re.search(r"serving (http://\S+)/graphql", self.out.read_text())):
            assert self.process.poll() is None, f"serve exited:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no address line:\n{self.stderr}"
            await asyncio.sleep(0.2)
        self.url = found[1]
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            while True:
                with suppress(httpx.TransportError):
                    if probe == "/graphql":
                        response = await client.post("/graphql", json=TYPENAME)
                        assert response.json() == {"data": {"__typename": "Query"}}
                        return
                    if (await client.get(probe)).status_code == 200:
                        return
                assert time.monotonic() < deadline, f"{probe} never answered:\n{self.stderr}"
                await asyncio.sleep(0.2)

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            return await client.get(path)

    async def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        return await asyncio.to_thread(self.process.wait, 60)

    async def exit_after(self, signum: int) -> tuple[int, float]:
        """Send `signum`; the exit status and the seconds it took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        code = await asyncio.to_thread(self.process.wait, 30)
        return code, time.monotonic() - sent

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def workers(self, count: int = 2) -> list[int]:
        """The PIDs of `serve --workers`' processes, once all `count` have started."""
        parent = psutil.Process(self.process.pid)
        for _ in range(100):
            # Forked: the parent's command line (the embedded PostgreSQL's are not its children).
            found = [c.pid for c in parent.children() if c.cmdline() == parent.cmdline()]
            if len(found) == count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"expected {count} workers, found {found}:\n{self.stderr}")

    def worker_of(self, workers: list[int], client_port: int) -> int:
        """Which of `workers` holds the connection a client made from `client_port`."""
        for pid in workers:
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.laddr.port == self.port and conn.raddr and conn.raddr.port == client_port:
                    return pid
        raise AssertionError(f"no worker holds the connection from port {client_port}")


def start_serving(
    env: dict[str, str], folder: Path, program: tuple[str, ...], args: tuple[str, ...] = ()
) -> Served:
    folder.mkdir(parents=True, exist_ok=True)
    out, err = folder / "stdout", folder / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, *program, "serve", "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    return Served(process, out, err)


@asynccontextmanager
async def serving(
    env: dict[str, str], folder: Path, program: tuple[str, ...] = APP, args: tuple[str, ...] = ()
) -> AsyncIterator[Served]:
    """`python <program> serve --port 0 <args>`, killed on the way out if it is still
    running (its workers, if any, get SIGTERM from the kernel: workers.py)."""
    served = start_serving(env, folder, program, args)
    process = served.process
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def postgres_processes(folder: Path) -> list[int]:
    """PIDs of the processes whose command line names `folder`: its postmaster.

    Read from /proc, not found the way db/embedded.py finds them (psutil, `-D folder`).
    """
    needle = str(folder).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if needle in cmdline and b"postgres" in cmdline:
            found.append(int(entry.name))
    return found


async def no_postgres_left(folder: Path) -> bool:
    for _ in range(50):
        if not postgres_processes(folder):
            return True
        await asyncio.sleep(0.2)
    return False


def kill_postgres(folder: Path) -> None:
    """Clean-up after a test: stop, the hard way, any server left on `folder`."""
    for pid in postgres_processes(folder):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
