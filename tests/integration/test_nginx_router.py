"""The nginx router on a stack of its own: upstream file, `nginx -t`, graceful reload, confirmed by the
router's answer, with no failed request under a bounded load."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelgate.gates.api import RouterError
from reelgate.plugins.nginx import NginxConfig, NginxRouter
from tests.integration.conftest import Stack, free_port_base

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def nginx_stack(stack: Stack) -> Iterator[Stack]:
    home = Path(tempfile.mkdtemp(prefix="reelgate-nginx-"))
    home.chmod(0o755)
    env = {
        **stack.env,
        "REELGATE_HOME": str(home),
        "REELGATE_PORT_BASE": str(free_port_base()),
        "REELGATE_ROUTER": "nginx",
    }
    own = Stack(home, env)
    try:
        up = own.cli("stack", "up")
        assert up.stdout.splitlines()[1].split()[0] == "nginx"
        own.cli("stack", "color", "start", "green")
        yield own
    finally:
        own.cli("stack", "down", check=False)
        shutil.rmtree(home, ignore_errors=True)


def color(stack: Stack) -> str:
    return httpx.get(f"{stack.router}/health/version", timeout=5).json()["color"]


def test_switch_back_and_forth_under_load(nginx_stack: Stack) -> None:
    router = NginxRouter(NginxConfig(drain=0.5), nginx_stack.ctx)
    assert asyncio.run(router.live()) == "blue" and color(nginx_stack) == "blue"
    ok, failed = [0], []
    stop = threading.Event()

    def load() -> None:
        """A keep-alive client, as browsers are: the router must not reset a request across a reload."""
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=5) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    answer = client.get(f"{nginx_stack.router}/health/ready")
                    if answer.status_code == 200:
                        ok[0] += 1
                    else:
                        failed.append(f"{answer.status_code}: {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    failed.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.005)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        for target in ("green", "blue") * 3:
            asyncio.run(router.switch(target))
            assert color(nginx_stack) == target
            assert asyncio.run(router.live()) == target
    finally:
        stop.set()
        thread.join()
    assert not failed and ok[0] > 100, failed


def test_a_config_nginx_refuses_is_rolled_back(nginx_stack: Stack) -> None:
    router = NginxRouter(NginxConfig(conf=str(nginx_stack.home / "missing.conf")), nginx_stack.ctx)
    live = asyncio.run(NginxRouter(NginxConfig(), nginx_stack.ctx).live())
    other = "blue" if live == "green" else "green"
    with pytest.raises(RouterError, match="nginx -t"):
        asyncio.run(router.switch(other))
    assert asyncio.run(NginxRouter(NginxConfig(), nginx_stack.ctx).live()) == live
    assert color(nginx_stack) == live
