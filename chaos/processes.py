"""Actions on one color's own processes: its worker (with the ffmpeg it runs) and its API.

They never touch the other color, PostgreSQL or Valkey, so the gate may run them against a
release's candidate while the live color serves. The supervisor restarts what they kill; the
rollback `ensure_running` starts the part if it did not come back (and is safe to run anyway).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import psutil

from reelgate.chaos.stack import color_of, router_server, settings_for
from reelgate.platform.settings import Settings
from reelgate.platform.stack import process_info, start_part
from reelgate.platform.stack.ports import port_holder

REFUSED_WITHIN_S = 5.0
"""How long a killed API's port may keep accepting: past that, something else serves it."""


def _kill_part(part: str, configuration: dict[str, Any] | None) -> dict[str, Any]:
    settings = settings_for(configuration)
    info = process_info(settings).get(part)
    pid = int(info["pid"]) if info and info.get("pid") else 0  # type: ignore[call-overload]
    if not pid:
        raise RuntimeError(f"{part} is not running on the stack at {settings.home}")
    process = psutil.Process(pid)
    children = process.children(recursive=True)  # ffmpeg: killed too, as a machine failure would
    # The parent first: killed after its children, a worker could see its ffmpeg die and record the video
    # `failed` in that instant (CI saw it once), which a machine failure never does.
    for victim in [process, *children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    return {"part": part, "pid": pid, "children_killed": len(children), "at": time.time()}


def kill_record(settings: Settings, part: str) -> Path:
    """Where a kill writes what it did, for the probes that time the router's view of it."""
    return settings.run_dir / "chaos" / f"{part}.killed.json"


def kill_worker(color: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL `color`'s worker and every process it started (its ffmpeg), mid-job if there is one."""
    return _kill_part(f"worker-{color_of(color)}", configuration)


def kill_api(color: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL `color`'s API (the program and every process it forked), then wait until its port refuses
    connections: that is what "down" means, for this action and for the probes that time the router's view
    (`probes.router_marks`), which read the record it writes. Raises when the port still accepts after
    `REFUSED_WITHIN_S`: a process outside the program's tree serves it, and the kill proved nothing."""
    settings, part = settings_for(configuration), f"api-{color_of(color)}"
    port = settings.port(color)
    before = router_server(settings, color) if settings.router == "haproxy" else {}
    killed = _kill_part(part, configuration)
    deadline = time.monotonic() + REFUSED_WITHIN_S
    while holder := port_holder(port):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{part} was killed, but port {port} is still held {REFUSED_WITHIN_S:g} s later, by {holder}: "
                "a process outside its tree serves it"
            )
        time.sleep(0.02)
    killed["refused_after_s"] = round(time.time() - killed["at"], 3)
    killed["router_before"] = before
    record = kill_record(settings, part)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(killed))
    return killed


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
