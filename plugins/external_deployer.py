"""`external`: a candidate deployed elsewhere (by another pipeline); reelgate only gates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec

from reelgate.gates.api import DeployError, Deployment, hookimpl


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    """The candidate's base URL."""
    ready_path: str = "/health/ready"


class ExternalDeployer:
    name = "external"
    Config = Config

    def __init__(self, config: Config, home: Path) -> None:
        self.config, self.home = config, home

    async def deploy(self, release_id: str, ref: str, color: str, say: Any) -> Deployment:
        url = self.config.url.rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(url + self.config.ready_path)
        except httpx.HTTPError as exc:
            raise DeployError(f"the external candidate {url} is unreachable: {exc}") from None
        if answer.status_code != 200:
            raise DeployError(f"the external candidate {url} is not ready ({answer.status_code})")
        say(f"external candidate {url} is ready")
        return Deployment(url=url)

    async def start(self, color: str, build_dir: str | None) -> None:
        """Nothing to start: the candidate's own pipeline runs it."""

    async def stop(self, color: str, drain_to: str | None = None) -> None:
        """Nothing to stop: the candidate's own pipeline runs it."""


@hookimpl
def register_deployers(register: Any) -> None:
    register(ExternalDeployer)
