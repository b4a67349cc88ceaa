"""The `external` deployer: it only checks that a candidate deployed elsewhere is ready, and refuses
clearly when it is not."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from reelgate.gates.api import DeployError, PluginContext
from reelgate.plugins.external_deployer import ExternalDeployer, ExternalDeployerConfig
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def deploy(url: str, tmp_path: Path, ready_path: str = "/health/ready") -> tuple[str, list[str]]:
    said: list[str] = []
    deployer = ExternalDeployer(ExternalDeployerConfig(url=url, ready_path=ready_path), PluginContext(home=tmp_path))
    deployment = asyncio.run(deployer.deploy("r1", "v1", "green", said.append))
    return deployment.url, said


def test_a_ready_candidate_is_taken_as_it_is(stack: Stack, tmp_path: Path) -> None:
    url, said = deploy(stack.router + "/", tmp_path)
    assert url == stack.router and said == [f"external candidate {stack.router} is ready"]


def test_a_candidate_that_is_not_ready_or_unreachable_is_refused(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"is not ready \(404\)"):
        deploy(stack.router, tmp_path, ready_path="/no-such-probe")
    with socket.socket() as spare:  # a port nothing listens on
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with pytest.raises(DeployError, match="is unreachable"):
        deploy(f"http://127.0.0.1:{port}", tmp_path)
