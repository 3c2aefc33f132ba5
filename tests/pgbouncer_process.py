"""Debian's PgBouncer (1.18: no max_prepared_statements) in front of a PostgreSQL server,
as a process of its own: started on a free port with a throwaway configuration, stopped
on leaving the context. No pytest here: tests/pgbouncer.py wraps it for the tests (skip
or fail without the binary), and bench/run.py --pgbouncer runs the bench through it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

START_S = 10.0


@dataclass(frozen=True, slots=True)
class PgBouncer:
    url: str  # the server URL given, with PgBouncer's address instead of the server's
    pid: int


def find_executable() -> str | None:
    """The pgbouncer binary (Debian installs it in /usr/sbin), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


@contextmanager
def running(
    binary: str, server_url: str, *, pool_mode: str, server_connections: int
) -> Iterator[PgBouncer]:
    """A PgBouncer in front of `server_url`'s server, every database on it, with at most
    `server_connections` server connections per database and user."""
    url = make_url(server_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    if isinstance(host, tuple):
        host = host[0]
    with _free_port() as port, tempfile.TemporaryDirectory(prefix="storefront-pgb-") as folder:
        where = Path(folder)
        # Readable by the unprivileged user PgBouncer runs as when started by root.
        where.chmod(0o755)
        user, password = url.username or "postgres", url.password or ""
        (where / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        (where / "pgbouncer.ini").write_text(
            _INI.format(
                host=host,
                server_port=url.port or 5432,
                port=port,
                userlist=where / "userlist.txt",
                pool_size=server_connections,
                pool_mode=pool_mode,
            )
        )
        for name in ("userlist.txt", "pgbouncer.ini"):
            (where / name).chmod(0o644)
        command = [binary, str(where / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            command[1:1] = ["-u", _unprivileged_user(host)]
        with (where / "log").open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, process, where / "log")
            yield PgBouncer(
                url=url.set(host="127.0.0.1", port=port, query={}).render_as_string(
                    hide_password=False
                ),
                pid=process.pid,
            )
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


_INI = """\
[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {userlist}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
; SQLAlchemy's asyncpg dialect docs ("Prepared Statement Name with PGBouncer"): DISCARD
; after every transaction, so that the uniquely named statements of the write path
; do not pile up on server connections.
server_reset_query = DISCARD ALL
server_reset_query_always = 1
"""


def _unprivileged_user(host: str) -> str:
    """Who may reach the server: the owner of its socket's folder (the embedded server's
    data folder, which only its own user may enter), else nobody."""
    if host.startswith("/"):
        owner = pwd.getpwuid(Path(host).stat().st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


@contextmanager
def _free_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    yield port


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer never listened:\n{log.read_text()}") from None
            time.sleep(0.05)
