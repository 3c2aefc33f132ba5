"""`serve --workers N`: N processes serving one socket, each with its own pools.

The parent does what one process would do before serving: binds the socket, readies
the database (starting the embedded PostgreSQL, once) and builds the app. Then it
forks N workers. Each serves the inherited socket with uvicorn exactly as a single
process does (serving.py): it runs the app's lifespan itself, so it opens its own
pools, and it has its own shutdown watchdog. The kernel hands each new connection to
whichever worker accepts it first. Forking after the app is built shares the schema
and the imported modules copy-on-write (frozen out of the collector's reach first,
whose bookkeeping would otherwise write to, and so copy, every page it walks).

The parent then only supervises. SIGTERM or Ctrl-C reaches the workers as one SIGTERM
each: the workers are in a process group of their own, so that a terminal's Ctrl-C
does not reach them besides (uvicorn takes a second signal that is a SIGINT as "exit
now, skip the grace period"). Each worker then shuts down within
STOREFRONT_SHUTDOWN_GRACE_SECONDS as a single process does, and the parent waits for
all of them before the embedded PostgreSQL is stopped. A worker that exits on its own
(a crash, a failed start) stops the others: the service ends with an error for
whatever restarts it (systemd, Kubernetes) rather than running short-handed unseen.
A worker whose parent dies (kill -9) gets SIGTERM from the kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

import serving

log = logging.getLogger("storefront.workers")

# Linux's prctl option that has the kernel signal a process when its parent dies.
PR_SET_PDEATHSIG = 1
# How often the parent looks for workers that have exited.
POLL_S = 0.1


def run_workers(
    count: int, sock: socket.socket, serve_one: Callable[[], None], *, grace_s: float
) -> NoReturn:
    """Fork `count` workers, each running `serve_one()` (serving `sock` until SIGTERM),
    and wait for all of them. Exits (SystemExit) with 128 + the signal that stopped
    them, or 1 when a worker exited unasked."""
    serving.settle_garbage_collector()
    parent = os.getpid()
    stop = _Stop()
    previous = {signum: signal.signal(signum, stop.handle) for signum in serving.SIGNALS}
    try:
        for index in range(count):
            # Blocked across the fork, so that the parent's handler never runs in a
            # worker: each worker has its own back (and its signals) before it unblocks.
            signal.pthread_sigmask(signal.SIG_BLOCK, serving.SIGNALS)
            pid = os.fork()
            if pid == 0:
                _work(serve_one, parent, previous)
            with contextlib.suppress(OSError):  # the worker may have done it already
                os.setpgid(pid, pid)
            stop.workers[pid] = index + 1
            signal.pthread_sigmask(signal.SIG_UNBLOCK, serving.SIGNALS)
            log.info("worker %d of %d started: process %d", index + 1, count, pid)
        # The workers hold the socket now; the parent's copy would keep it listening
        # (connections queueing, never refused) after every worker has closed its own.
        sock.close()
        if stop.signum is not None:  # a signal that came while the workers were forked
            stop.tell_workers()
        code = _supervise(stop, grace_s)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, serving.SIGNALS)  # should a fork fail
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    raise SystemExit(code)


class _Stop:
    """The parent's stop signal, passed on to the workers as SIGTERM."""

    def __init__(self) -> None:
        self.workers: dict[int, int] = {}  # pid: the worker's number
        self.signum: int | None = None
        self.since: float | None = None  # when the workers were told to stop

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.tell_workers()

    def tell_workers(self, signum: int = signal.SIGTERM) -> None:
        if self.since is None:
            self.since = time.monotonic()
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def _supervise(stop: _Stop, grace_s: float) -> int:
    # A worker's watchdog ends it by GIVE_UP_S past its grace period at the latest;
    # past that (and a moment more), the parent's last resort is SIGKILL.
    overdue_s = grace_s + serving.GIVE_UP_S + 2.0
    failed = killed = False
    while stop.workers:
        for pid in list(stop.workers):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                continue
            number = stop.workers.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if stop.signum is None and not failed:
                failed = True
                log.error(
                    "worker %d (process %d) exited with status %d: stopping", number, pid, code
                )
                stop.tell_workers()
            elif code not in (0, 128 + signal.SIGTERM):
                log.warning("worker %d (process %d) exited with status %d", number, pid, code)
        overdue = stop.since is not None and time.monotonic() - stop.since > overdue_s
        if stop.workers and overdue and not killed:
            log.critical("workers %s outlived their shutdown: killing them", sorted(stop.workers))
            stop.tell_workers(signal.SIGKILL)
            killed = True
        time.sleep(POLL_S)
    if stop.signum is not None and not failed:
        return 128 + stop.signum
    return 1


def _work(
    serve_one: Callable[[], None], parent: int, handlers: dict[signal.Signals, Any]
) -> NoReturn:
    """A worker's whole life: it never returns into the parent's code, and it leaves by
    os._exit, so that the parent's exit hooks (stopping the embedded PostgreSQL among
    them) run in the parent alone."""
    code = 1
    try:
        os.setpgid(0, 0)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, serving.SIGNALS)
        _die_with_parent(parent)
        serve_one()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above took effect
        raise SystemExit(128 + signal.SIGTERM)
