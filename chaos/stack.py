"""Which stack an action acts on: the one named by Chaos Toolkit's configuration (`home`,
`port_base`), else the environment's (`REELGATE_HOME`, `REELGATE_PORT_BASE`)."""

from __future__ import annotations

import os
from typing import Any

from reelgate.platform.settings import Settings, load_settings


def settings_for(configuration: dict[str, Any] | None) -> Settings:
    env = dict(os.environ)
    config = configuration or {}
    if config.get("home"):
        env["REELGATE_HOME"] = str(config["home"])
    if config.get("port_base"):
        env["REELGATE_PORT_BASE"] = str(config["port_base"])
    return load_settings(env)


def color_of(color: str) -> str:
    if color not in ("blue", "green"):
        raise ValueError(f"expected the color blue or green, found {color!r}")
    return color
