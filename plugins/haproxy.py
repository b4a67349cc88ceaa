"""`haproxy`: switch traffic between the colors through HAProxy's runtime API.

The switch gives the candidate weight 100, then the old color weight 0 (it
drains: requests in flight finish, no new ones arrive), and is confirmed with
`show servers state`. Every `set` command answers with an empty line on
success; any other answer is an error. The router writes no file: once the
switch is confirmed, the engine records the live color and the local stack's
configs are derived from it (`reelgate stack router-config`), so a reload
keeps it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

from reelgate.contract import stack as contract
from reelgate.gates.api import PluginContext, RouterError, hookimpl

LIVE_WEIGHT = 100


class HAProxyConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    socket: str = "var/run/haproxy.sock"
    """The admin socket: a path (relative to the checkout), or `tcp://host:port` for a remote HAProxy."""
    backend: str = "be_app"
    timeout: float = 5.0
    drain: float = 0.0
    """Seconds to let requests in flight on the old color finish before the switch counts as done."""
    wait_up: float = 15.0
    """Seconds to wait for HAProxy's health checks to see the new color up before refusing to switch."""


class ServerState(msgspec.Struct):
    name: str
    operational: int
    """srv_op_state: 2 means running (health checks pass)."""
    admin: int
    weight: int


async def command(config: HAProxyConfig, home: Path, line: str) -> str:
    """Send one runtime API command and return the whole answer."""
    if config.socket.startswith("tcp://"):
        host, _, port = config.socket[len("tcp://") :].rpartition(":")
        opener = asyncio.open_connection(host, int(port))
    else:
        path = Path(config.socket)
        opener = asyncio.open_unix_connection(str(path if path.is_absolute() else home / path))
    try:
        reader, writer = await asyncio.wait_for(opener, config.timeout)
    except (OSError, TimeoutError) as exc:
        raise RouterError(f"cannot reach HAProxy's admin socket {config.socket}: {exc}") from None
    try:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.read(), config.timeout)).decode()
    finally:
        writer.close()


def parse_servers_state(answer: str, backend: str) -> dict[str, ServerState]:
    """The servers of `backend` in an answer to `show servers state` (format version 1)."""
    found = {}
    for row in answer.splitlines():
        fields = row.split()
        if len(fields) > 8 and fields[1] == backend:
            found[fields[3]] = ServerState(
                name=fields[3], operational=int(fields[5]), admin=int(fields[6]), weight=int(fields[7])
            )
    if not found:
        raise RouterError(f"HAProxy has no servers in backend {backend}: {answer.strip()[:200]}")
    return found


async def servers(config: HAProxyConfig, home: Path) -> dict[str, ServerState]:
    return parse_servers_state(await command(config, home, f"show servers state {config.backend}"), config.backend)


class HAProxyRouter:
    name = "haproxy"
    Config = HAProxyConfig

    def __init__(self, config: HAProxyConfig, ctx: PluginContext) -> None:
        self.config, self.home = config, ctx.home

    async def _set(self, line: str) -> None:
        answer = await command(self.config, self.home, line)
        if answer.strip():
            raise RouterError(f"HAProxy refused `{line}`: {answer.strip()}")

    async def live(self) -> str | None:
        """The color taking traffic (the one with weight), or None if none or both do."""
        state = await servers(self.config, self.home)
        weighted = [name for name, s in state.items() if s.weight > 0 and s.admin == 0]
        return weighted[0] if len(weighted) == 1 else None

    async def healthy(self, color: str) -> bool:
        state = (await servers(self.config, self.home)).get(color)
        return state is not None and state.operational == 2 and state.admin == 0

    async def switch(self, color: str) -> None:
        if not contract.is_color(color):
            raise RouterError(f"unknown color {color!r}")
        old = contract.other(color)
        deadline = asyncio.get_running_loop().time() + self.config.wait_up
        while not await self.healthy(color):
            if asyncio.get_running_loop().time() > deadline:
                raise RouterError(f"HAProxy does not see {color} as up after {self.config.wait_up:g} s; not switching")
            await asyncio.sleep(0.25)
        backend = self.config.backend
        await self._set(f"set weight {backend}/{color} {LIVE_WEIGHT}")
        await self._set(f"set weight {backend}/{old} 0")
        if self.config.drain > 0:
            await asyncio.sleep(self.config.drain)
        state = await servers(self.config, self.home)
        if state[color].weight != LIVE_WEIGHT or state[old].weight != 0:
            raise RouterError(
                f"the switch to {color} was not confirmed by `show servers state`: "
                f"{color} weight {state[color].weight}, {old} weight {state[old].weight}"
            )


@hookimpl
def register_routers(register: Any) -> None:
    register(HAProxyRouter)
