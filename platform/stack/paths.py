"""Where the stack's parts live: PostgreSQL's data and binaries, Valkey, each color's build link,
and the live color the configs are generated from."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from reelgate.contract import stack as contract
from reelgate.platform.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")

COLORS = contract.COLORS
other = contract.other


class StackError(Exception):
    """The stack could not be brought to the asked state; the message says why."""


def run_as_postgres() -> bool:
    return os.geteuid() == 0


def pg_data_dir(settings: Settings) -> Path:
    """PostgreSQL's data folder: `var/pg`, unless the `postgres` user cannot reach it.

    As root, PostgreSQL runs as `postgres`, which cannot enter a checkout under
    a 0700 home folder; then the data goes under /var/lib/reelgate/<hash>.
    """
    local = settings.var / "pg"
    if not run_as_postgres() or _postgres_can_enter(settings.var):
        return local
    digest = hashlib.sha256(str(settings.root).encode()).hexdigest()[:12]
    return Path("/var/lib/reelgate") / digest / "pg"


def _postgres_can_enter(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], capture_output=True, check=False
    )
    return probe.returncode == 0


def pg_bin() -> Path:
    """The newest installed PostgreSQL's binaries (15 on Debian 12, 16 on Ubuntu 24.04)."""
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise StackError(f"PostgreSQL is not installed (nothing in {PG_ROOT}); apt-get install postgresql")
    return versions[-1]


def valkey_binary() -> str:
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise StackError("neither valkey-server nor redis-server is installed (apt-get install redis-server)")


def color_link(settings: Settings, color: str) -> Path:
    return contract.color_link(settings.var, color)


def point_color(settings: Settings, color: str, venv: Path) -> None:
    """Point a color at a build (a venv holding `bin/reelgate`), atomically."""
    if not (venv / "bin" / "reelgate").exists():
        raise StackError(f"{venv} is not a reelgate build (no bin/reelgate)")
    link = color_link(settings, color)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{color}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(venv.resolve())
    os.replace(tmp, link)


def metrics_dir(settings: Settings, color: str) -> Path:
    return settings.run_dir / f"metrics-{color}"


def live_color(settings: Settings) -> str:
    marker = contract.live_color_file(settings.var)
    color = marker.read_text().strip() if marker.exists() else "blue"
    return color if contract.is_color(color) else "blue"
