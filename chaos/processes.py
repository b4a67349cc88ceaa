"""Actions on one color's own processes: its worker (with the ffmpeg it runs) and its API.

They never touch the other color, PostgreSQL or Valkey, so the gate may run them against a
release's candidate while the live color serves. The supervisor restarts what they kill; the
rollback `ensure_running` starts the part if it did not come back (and is safe to run anyway).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psutil

from reelgate.chaos.stack import color_of, settings_for
from reelgate.platform.stack import process_info, start_part


def _kill_part(part: str, configuration: dict[str, Any] | None) -> dict[str, Any]:
    settings = settings_for(configuration)
    info = process_info(settings).get(part)
    pid = int(info["pid"]) if info and info.get("pid") else 0  # type: ignore[call-overload]
    if not pid:
        raise RuntimeError(f"{part} is not running on the stack at {settings.home}")
    process = psutil.Process(pid)
    children = process.children(recursive=True)  # ffmpeg: killed too, as a machine failure would
    for victim in [*children, process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    return {"part": part, "pid": pid, "children_killed": len(children), "at": time.time()}


def kill_worker(color: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL `color`'s worker and every process it started (its ffmpeg), mid-job if there is one."""
    return _kill_part(f"worker-{color_of(color)}", configuration)


def kill_api(color: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL `color`'s API process."""
    return _kill_part(f"api-{color_of(color)}", configuration)


def ensure_running(part: str, within_s: float = 30, configuration: dict[str, Any] | None = None) -> str:
    """Rollback: wait for the supervisor to bring `part` back, and start it if it does not."""
    settings = settings_for(configuration)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        info = process_info(settings).get(part)
        if info and info.get("statename") == "RUNNING":
            return "running"
        time.sleep(0.5)
    start_part(settings, part)
    return "started"
