"""Free ports, and who holds a busy one."""

from __future__ import annotations

import contextlib
import socket

import psutil

from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError


def port_holder(port: int) -> str | None:
    """Who listens on 127.0.0.1:`port`, as "pid N (name)", or None if it is free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return None
        except OSError:
            pass
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline()[:3]) or proc.name()})"
    return "another process"


def check_ports_free(settings: Settings, parts: dict[str, int]) -> None:
    busy = [f"{part} port {port} is held by {holder}" for part, port in parts.items() if (holder := port_holder(port))]
    if busy:
        raise StackError(
            "; ".join(busy) + f". Stop it, or choose another REELGATE_PORT_BASE (now {settings.port_base})."
        )
