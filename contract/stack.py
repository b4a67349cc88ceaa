"""The names every room shares about the local stack: the colors, the parts and their ports, the job queues,
the database URL, the paths under `var/` and the router's upstream text.

This is the ground floor: it imports nothing of reelgate, and every other room takes these facts from here
instead of spelling them out again. The table "Shared names and ports" in docs/architecture.md is the same
contract in words; a test holds the two together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, ...] = ("blue", "green")

PORT_OFFSETS: dict[str, int] = {"router": 0, "blue": 1, "green": 2, "postgres": 3, "valkey": 4}
"""Each part's port is `REELGATE_PORT_BASE` plus its offset."""
PARTS = tuple(PORT_OFFSETS)
DEFAULT_PORT_BASE = 8400

BACKEND = "be_app"
"""The router's backend (HAProxy) and upstream (nginx) name; its servers are named after the colors."""


def is_color(value: object) -> bool:
    return value in COLORS


def color(value: str) -> Color:
    """`value` as a Color; anything else is a ValueError that says what was expected."""
    if value == "blue":
        return "blue"
    if value == "green":
        return "green"
    raise ValueError(f"expected the color blue or green, found {value!r}")


def other(value: str) -> Color:
    """The other color: the idle one beside a live one, the live one beside a candidate."""
    return "green" if color(value) == "blue" else "blue"


def port(base: int, part: str) -> int:
    """The port of `part` (router, blue, green, postgres, valkey) on a stack whose ports start at `base`."""
    if part not in PORT_OFFSETS:
        raise ValueError(f"expected one of {', '.join(PARTS)}, found {part!r}")
    return base + PORT_OFFSETS[part]


def queue_for(value: str) -> str:
    """The job queue of a color: each color's worker consumes only its own."""
    return f"transcode.{color(value)}"


def database_url(user: str, password: str, port_: int, host: str = "127.0.0.1", name: str = "reelgate") -> str:
    """The stack's PostgreSQL URL, as the platform, the engine and the tests build it."""
    return f"postgresql://{user}:{password}@{host}:{port_}/{name}"


# -- paths under var/ ----------------------------------------------------------------------


def live_color_file(var: Path) -> Path:
    """The stack's copy of the live color, written only after a switch the router confirmed."""
    return var / "live_color"


def color_link(var: Path, value: str) -> Path:
    """A link to the build (a venv with `bin/reelgate`) a color runs."""
    return var / "colors" / color(value)


def builds_dir(var: Path) -> Path:
    return var / "builds"


def build_dir(var: Path, commit: str, extras: list[str] | tuple[str, ...] = ()) -> Path:
    """One candidate build per commit and extras: `var/builds/<commit>+<extra>...` (no glob characters: tools
    read paths as patterns, and `<commit>[test]` once made coverage measure nothing)."""
    return builds_dir(var) / "+".join([commit, *sorted(extras)])


def release_dir(var: Path, release_id: str) -> Path:
    """A release's deploy log, gate artefacts and reports."""
    return var / "releases" / release_id


def haproxy_socket(var: Path) -> Path:
    return var / "run" / "haproxy.sock"


def nginx_files(var: Path) -> tuple[Path, Path]:
    """nginx's main config and the upstream file it includes, rewritten on a switch."""
    return var / "nginx" / "nginx.conf", var / "nginx" / "upstream.conf"


# -- the router's upstream text ---------------------------------------------------------------

_SERVER = re.compile(r"^\s*server\s+127\.0\.0\.1:(\d+);", re.M)


def nginx_upstream(live_port: int) -> str:
    """nginx's upstream file: the one server that takes traffic."""
    return f"upstream {BACKEND} {{\n    server 127.0.0.1:{live_port};\n    keepalive 32;\n}}\n"


def nginx_upstream_port(text: str) -> int | None:
    """The live port an upstream file written by `nginx_upstream` names (None: not exactly one server)."""
    ports = _SERVER.findall(text)
    return int(ports[0]) if len(ports) == 1 else None
