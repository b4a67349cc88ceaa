"""The nginx router on a stack of its own: upstream file, `nginx -t`, graceful reload, confirmed by the
router's answer, with no failed request under a bounded load."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelgate.gates.api import RouterError
from reelgate.plugins.nginx import NginxConfig, NginxRouter
from tests.integration.stack import Stack, free_port_base
from tests.load import Load

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


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
    # A keep-alive client, as browsers are: the router must not reset a request across a reload.
    with Load(f"{nginx_stack.router}/health/ready", rate=200, limit_s=60) as load:
        for target in ("green", "blue") * 3:
            asyncio.run(router.switch(target))
            assert color(nginx_stack) == target
            assert asyncio.run(router.live()) == target
    assert not load.failures and load.ok > 100, load.failures


def test_a_config_nginx_refuses_is_rolled_back(nginx_stack: Stack) -> None:
    router = NginxRouter(NginxConfig(conf=str(nginx_stack.home / "missing.conf")), nginx_stack.ctx)
    live = asyncio.run(NginxRouter(NginxConfig(), nginx_stack.ctx).live())
    other = "blue" if live == "green" else "green"
    with pytest.raises(RouterError, match="nginx -t"):
        asyncio.run(router.switch(other))
    assert asyncio.run(NginxRouter(NginxConfig(), nginx_stack.ctx).live()) == live
    assert color(nginx_stack) == live


def test_a_promotion_through_nginx_survives_stack_down_and_up(nginx_stack: Stack, stack: Stack) -> None:
    """Before the fix only the HAProxy router recorded the live color (`var/live_color`), so after an nginx
    promotion `stack down && stack up` rebuilt the upstream from the stale file and served the old release."""
    builds = stack.home / "var" / "builds"  # one wheel per commit, shared with the main stack's releases
    builds.mkdir(parents=True, exist_ok=True)
    (nginx_stack.home / "var" / "builds").symlink_to(builds)
    policy = nginx_stack.home / "through-nginx.yaml"
    policy.write_text(
        f'router: {{uses: nginx, with: {{drain: 0.5}}}}\ndeployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\n'
        "scale_down_delay: 1\ngates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n"
    )
    before = color(nginx_stack)
    started = nginx_stack.cli("release", "start", "--candidate", "HEAD", "--policy", str(policy), check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    after = color(nginx_stack)
    assert after != before
    assert (nginx_stack.home / "var" / "live_color").read_text().strip() == after
    nginx_stack.cli("stack", "down")
    nginx_stack.cli("stack", "up")
    assert color(nginx_stack) == after
    assert asyncio.run(NginxRouter(NginxConfig(), nginx_stack.ctx).live()) == after
