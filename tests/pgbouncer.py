"""Debian's PgBouncer (1.18: no max_prepared_statements) in front of the test server, in
transaction mode (or session mode): `pytest --pgbouncer` runs the app's traffic through
it, and tests/db/test_poolers.py starts its own. The process itself is
tests/pgbouncer_process.py (no pytest there: the bench runs it too).

Without `pgbouncer` a test that wants it skips, except in CI (`CI` set) and under
`--pgbouncer`, which asked for it: there it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.pgbouncer_process import find_executable, running

# A few server connections for many clients: transactions of different clients take
# turns on each, which is what breaks a client that expects a session of its own.
SERVER_CONNECTIONS = 3


def executable(*, required: bool = False) -> str:
    """The pgbouncer binary; skips without one (fails in CI, or if `required`)."""
    found = find_executable()
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
    with running(
        binary, server_url, pool_mode=pool_mode, server_connections=server_connections
    ) as bouncer:
        yield bouncer.url
