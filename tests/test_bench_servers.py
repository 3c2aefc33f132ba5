"""The bench starts its servers on fixed ports: one it finds taken is refused, since the
start-up probe would be answered by whatever holds it (another bench run) and every
figure after it measured on that server."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from bench import servers


def test_a_server_is_not_started_on_a_port_another_process_holds(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = servers.Server("storefront", port, [sys.executable, "-c", "pass"], {}, tmp_path)

        with pytest.raises(SystemExit, match=f"port {port} is in use"):
            server.start(None, timeout=5)

        assert server.process is None
