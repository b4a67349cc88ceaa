"""`external`: a candidate deployed elsewhere (by another pipeline); reelgate only gates it.

The candidate's own pipeline owns its database, so reelgate cannot make a tenant
there: the deployment supplies the gates' credentials through the environment
(`api_key_env`), and the live URL for `baseline: live` checks (`live_url`).
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from reelgate.gates.api import DeployError, Deployment, PluginContext, Say, hookimpl, http_ready


class ExternalDeployerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    """The candidate's base URL."""
    ready_path: str = "/health/ready"
    live_url: str = ""
    """The live release's own base URL, for checks with `baseline: live` (empty: none)."""
    api_key_env: str = ""
    """The environment variable holding an API key of a tenant on the candidate, for the gates."""


class ExternalDeployer:
    name = "external"
    Config = ExternalDeployerConfig

    def __init__(self, config: ExternalDeployerConfig, ctx: PluginContext) -> None:
        self.config, self.ctx = config, ctx

    async def deploy(self, release_id: str, ref: str, color: str, say: Say) -> Deployment:
        url = self.config.url.rstrip("/")
        key = None
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise DeployError(f"`api_key_env` names {self.config.api_key_env}, which is not set")
        status = await http_ready(url, self.config.ready_path, within=10)
        if status is None:
            raise DeployError(f"the external candidate {url} is unreachable")
        if status != 200:
            raise DeployError(f"the external candidate {url} is not ready ({status})")
        say(f"external candidate {url} is ready")
        return Deployment(url=url, live_url=self.config.live_url.rstrip("/") or None, api_key=key)

    async def start(self, color: str, build_dir: str | None) -> None:
        """Nothing to start: the candidate's own pipeline runs it."""

    async def stop(self, color: str, drain_to: str | None = None) -> None:
        """Nothing to stop: the candidate's own pipeline runs it."""


@hookimpl
def register_deployers(register: Any) -> None:
    register(ExternalDeployer)
