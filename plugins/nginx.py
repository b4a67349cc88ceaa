"""`nginx`: switch traffic by rewriting the upstream file, checking it with `nginx -t`, and
reloading nginx gracefully.

nginx's old workers finish their requests on the old upstream for a moment
after a reload, so the switch waits `drain` seconds before it counts as done
(and before the release stops the old color). The switch is confirmed by
asking the router which color answers (`/health/version`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import httpx
import msgspec

from reelgate.contract import stack as contract
from reelgate.gates.api import PluginContext, RouterError, ToolNotFound, hookimpl, http_ready, run_tool


class NginxConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    conf: str = "var/nginx/nginx.conf"
    """nginx's main config (relative to the checkout), which includes the upstream file."""
    upstream: str = "var/nginx/upstream.conf"
    """The file holding `upstream be_app { ... }`, rewritten on a switch."""
    nginx: str = "nginx"
    drain: float = 1.0
    """Seconds for the old workers to finish on the old upstream after the reload."""
    confirm_timeout: float = 10.0


class NginxRouter:
    name = "nginx"
    Config = NginxConfig

    def __init__(self, config: NginxConfig, ctx: PluginContext) -> None:
        self.config, self.ctx = config, ctx

    def _port_color(self) -> dict[int, str]:
        return {self.ctx.port(color): color for color in contract.COLORS}

    async def live(self) -> str | None:
        try:
            text = self.ctx.path(self.config.upstream).read_text()
        except OSError:
            return None
        port = contract.nginx_upstream_port(text)
        return self._port_color().get(port) if port is not None else None

    async def healthy(self, color: str) -> bool:
        return await http_ready(self.ctx.url(color)) == 200

    async def _nginx(self, *args: str) -> None:
        binary = shutil.which(self.config.nginx) or self.config.nginx
        try:
            run = await run_tool([binary, "-c", str(self.ctx.path(self.config.conf)), *args], kill_after=30)
        except ToolNotFound as exc:
            raise RouterError(str(exc)) from None
        if run.exit_code != 0 or run.timed_out:
            raise RouterError(f"nginx {' '.join(args)} failed: {run.stderr.decode(errors='replace').strip()[-400:]}")

    async def switch(self, color: str) -> None:
        if not contract.is_color(color):
            raise RouterError(f"unknown color {color!r}")
        if not await self.healthy(color):
            raise RouterError(f"{color} does not answer /health/ready; not switching")
        upstream = self.ctx.path(self.config.upstream)
        previous = upstream.read_text() if upstream.exists() else None
        tmp = upstream.with_suffix(".tmp")
        port = self.ctx.port(color)
        tmp.write_text(f"# written by the nginx router plugin; live: {color}\n" + contract.nginx_upstream(port))
        os.replace(tmp, upstream)
        try:
            await self._nginx("-t", "-q")
        except RouterError:
            if previous is not None:
                upstream.write_text(previous)
            raise
        await self._nginx("-s", "reload")
        await self._confirm(color)
        await asyncio.sleep(self.config.drain)

    async def _confirm(self, color: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.config.confirm_timeout
        seen = None
        async with httpx.AsyncClient(timeout=2) as client:
            while asyncio.get_running_loop().time() < deadline:
                try:
                    answer = await client.get(f"{self.ctx.url('router')}/health/version")
                    seen = answer.json().get("color") if answer.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    seen = None
                if seen == color:
                    return
                await asyncio.sleep(0.1)
        raise RouterError(f"after the reload the router still answers from {seen or 'nothing'}, not {color}")


@hookimpl
def register_routers(register: Any) -> None:
    register(NginxRouter)
