"""The engine's view of the shared settings (`REELGATE_*` over `reelgate.toml`).

The engine talks to the platform over HTTP and its CLI only, so it reads the
few shared names itself rather than importing the platform's settings.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from reelgate.contract import stack as contract

if TYPE_CHECKING:
    from reelgate.gates.api import PluginContext


class EngineSettings(msgspec.Struct, kw_only=True):
    home: Path
    port_base: int = 8400
    database_url: str = ""
    dashboard_url: str = ""
    """Where people open the gate service's dashboard (`https://releases.example.com`): notifications link
    each release's page there. Empty: they link the report file only. From `REELGATE_DASHBOARD_URL` only:
    `reelgate.toml` is the platform's too, and it refuses keys it does not know."""

    @property
    def var(self) -> Path:
        return self.home / "var"

    def port(self, part: str) -> int:
        return contract.port(self.port_base, part)

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.port(part)}"

    def plugin_context(self) -> PluginContext:
        """What routers and deployers are built with: this stack's home, ports and the checkout's own CLI."""
        from reelgate.gates.api import PluginContext

        reelgate = Path(sys.executable).parent / "reelgate"
        return PluginContext(
            home=self.home, port_base=self.port_base, reelgate=str(reelgate) if reelgate.exists() else "reelgate"
        )

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        secret = self.var / "secrets" / "db_password"
        password = secret.read_text().strip() if secret.exists() else ""
        return contract.database_url("reelgate", password, self.port("postgres"))


def engine_settings(env: dict[str, str] | None = None) -> EngineSettings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("REELGATE_HOME") or os.getcwd()).resolve()
    values: dict[str, object] = {}
    toml = home / "reelgate.toml"
    if toml.exists():
        data = tomllib.loads(toml.read_text())
        values.update({k: v for k, v in data.items() if k in ("port_base", "database_url")})
    for name in ("port_base", "database_url", "dashboard_url"):
        if f"REELGATE_{name.upper()}" in env:
            values[name] = env[f"REELGATE_{name.upper()}"]
    try:
        return EngineSettings(
            home=home,
            port_base=int(values.get("port_base", 8400)),  # type: ignore[call-overload]
            database_url=str(values.get("database_url", "")),
            dashboard_url=str(values.get("dashboard_url", "")),
        )
    except ValueError:
        raise ValueError(f"REELGATE_PORT_BASE must be a number, not {values.get('port_base')!r}") from None
