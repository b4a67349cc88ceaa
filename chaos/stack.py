"""Which stack an action acts on: the one named by Chaos Toolkit's configuration (`home`,
`port_base`), else the environment's (`REELGATE_HOME`, `REELGATE_PORT_BASE`)."""

from __future__ import annotations

import os
from typing import Any

from reelgate.contract import stack as contract
from reelgate.platform.settings import Settings, load_settings


def settings_for(configuration: dict[str, Any] | None) -> Settings:
    env = dict(os.environ)
    config = configuration or {}
    if config.get("home"):
        env["REELGATE_HOME"] = str(config["home"])
    if config.get("port_base"):
        env["REELGATE_PORT_BASE"] = str(config["port_base"])
    return load_settings(env)


color_of = contract.color
"""The color an experiment names, checked: anything else is a ValueError saying what was expected."""


def router_server(settings: Settings, color: str) -> dict[str, str]:
    """`color`'s row of HAProxy's `show stat` in `be_app`: `status` (UP, DOWN, or a transition such as
    `UP 1/2`), `chkfail` (failed health checks), `chkdown` (UP to DOWN transitions), and the rest."""
    import csv
    import socket

    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(2)
        conn.connect(str(contract.haproxy_socket(settings.var)))
        conn.sendall(b"show stat\n")
        answer = b"".join(iter(lambda: conn.recv(65536), b"")).decode()
    header = answer.splitlines()[0].lstrip("# ").split(",")
    rows = csv.reader(line for line in answer.splitlines() if line and not line.startswith("#"))
    for row in rows:
        fields = dict(zip(header, row, strict=False))
        if fields.get("pxname") == "be_app" and fields.get("svname") == color:
            return fields
    raise RuntimeError(f"HAProxy has no server {color} in be_app")
