"""Debian's PgBouncer (1.18: no max_prepared_statements) in front of the test server, in
transaction mode (or session mode): `pytest --pgbouncer` runs the app's traffic through
it, and tests/db/test_poolers.py starts its own.

Without `pgbouncer` a test that wants it skips, except in CI (`CI` set) and under
`--pgbouncer`, which asked for it: there it fails.
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
from pathlib import Path

import pytest
from sqlalchemy import make_url

# A few server connections for many clients: transactions of different clients take
# turns on each, which is what breaks a client that expects a session of its own.
SERVER_CONNECTIONS = 3
START_S = 10.0


def executable(*, required: bool = False) -> str:
    """The pgbouncer binary; skips without one (fails in CI, or if `required`)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if required or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextmanager
def pgbouncer(
    server_url: str,
    *,
    pool_mode: str = "transaction",
    server_connections: int = SERVER_CONNECTIONS,
    required: bool = False,
) -> Iterator[str]:
    """A PgBouncer in front of `server_url`'s server, every database on it; yields
    `server_url` with PgBouncer's address instead of the server's."""
    binary = executable(required=required)
    url = make_url(server_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    if isinstance(host, tuple):
        host = host[0]
    with _free_port() as port, tempfile.TemporaryDirectory(prefix="storefront-pgb-") as folder:
        where = Path(folder)
        # Readable by the unprivileged user PgBouncer runs as when the suite runs as root.
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
            yield (
                url.set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False)
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
