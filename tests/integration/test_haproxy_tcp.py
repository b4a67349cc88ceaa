"""The HAProxy router over a `tcp://` admin address (a HAProxy on another host), against a real HAProxy
of the test's own with two tiny backends."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from reelgate.gates.api import PluginContext, RouterError
from reelgate.plugins.haproxy import HAProxyConfig, HAProxyRouter
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def backend(color: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = color.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def remote_haproxy(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A HAProxy whose admin API listens on TCP; yields (admin address, frontend URL)."""
    blue, green = backend("blue"), backend("green")
    admin, front = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""global
    stats socket ipv4@127.0.0.1:{admin} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{front}
    default_backend be_app
backend be_app
    option httpchk GET /health/ready
    server blue 127.0.0.1:{blue.server_address[1]} check inter 200ms weight 100
    server green 127.0.0.1:{green.server_address[1]} check inter 200ms weight 0
""")
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{front}/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False  # not listening yet

        wait_for(answers, 10, "HAProxy to answer")
        yield f"tcp://127.0.0.1:{admin}", f"http://127.0.0.1:{front}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        blue.shutdown()
        green.shutdown()


def test_switch_through_a_tcp_admin_address(remote_haproxy: tuple[str, str], tmp_path: Path) -> None:
    address, front = remote_haproxy
    router = HAProxyRouter(HAProxyConfig(socket=address, drain=0), PluginContext(home=tmp_path))
    assert asyncio.run(router.live()) == "blue"
    assert httpx.get(front).text == "blue"
    wait_for(lambda: asyncio.run(router.healthy("green")) or None, 10, "green to pass its health checks")
    asyncio.run(router.switch("green"))
    assert asyncio.run(router.live()) == "green"
    assert {httpx.get(front).text for _ in range(5)} == {"green"}


def test_an_unreachable_tcp_admin_address_is_a_clear_router_error(tmp_path: Path) -> None:
    router = HAProxyRouter(
        HAProxyConfig(socket=f"tcp://127.0.0.1:{free_port()}", timeout=2), PluginContext(home=tmp_path)
    )
    with pytest.raises(RouterError, match=r"cannot reach HAProxy's admin socket tcp://127\.0\.0\.1:\d+"):
        asyncio.run(router.live())
