"""Actions on what both colors share: Valkey and PostgreSQL. Only for a stack of their own
(`reelgate chaos run`) or a policy that sets `blast_radius: shared` with a reason: the live color
feels these. Each is bounded in time, and its rollback restores the part whatever happened; a dead
man's switch (`deadman.armed`) runs that rollback even if the action's process is killed."""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Any

import psutil

from reelgate.chaos.deadman import armed
from reelgate.chaos.stack import settings_for
from reelgate.platform.stack import process_info, start_part, stop_part

MAX_OUTAGE_S = 120


def bounded(seconds: float) -> float:
    if not 0 < seconds <= MAX_OUTAGE_S:
        raise ValueError(f"expected an outage of 0 to {MAX_OUTAGE_S} s, found {seconds}")
    return seconds


def outage(part: str, seconds: float, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stop `part` (`valkey` or `postgres`) for `seconds`, then start it again."""
    if part not in ("valkey", "postgres"):
        raise ValueError(f"expected valkey or postgres, found {part!r}")
    settings = settings_for(configuration)
    with armed(bounded(seconds), __name__, "resume", {"part": part}, configuration):
        stop_part(settings, part)
        try:
            time.sleep(seconds)
        finally:
            start_part(settings, part)
    return {"part": part, "down_s": seconds}


def restart(part: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stop and start `part` at once (a PostgreSQL restart drops every connection)."""
    settings = settings_for(configuration)
    started = time.monotonic()
    stop_part(settings, part)
    start_part(settings, part)
    return {"part": part, "restart_s": round(time.monotonic() - started, 2)}


def _processes(part: str, configuration: dict[str, Any] | None) -> list[psutil.Process]:
    """`part`'s process and its children (PostgreSQL runs under runuser, with a process per connection)."""
    info = process_info(settings_for(configuration)).get(part) or {}
    pid = int(info.get("pid") or 0)  # type: ignore[call-overload]
    if not pid:
        raise RuntimeError(f"{part} is not running")
    top = psutil.Process(pid)
    return [top, *top.children(recursive=True)]


def _signal_all(processes: list[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(sig)


def pause(part: str, seconds: float, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGSTOP `part` (every process of it) for `seconds`, then SIGCONT: it hangs rather than refusing."""
    processes = _processes(part, configuration)
    with armed(bounded(seconds), __name__, "resume", {"part": part}, configuration):
        _signal_all(processes, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            _signal_all(processes, signal.SIGCONT)
    return {"part": part, "paused_s": seconds, "processes": len(processes)}


def resume(part: str, configuration: dict[str, Any] | None = None) -> str:
    """Rollback of `pause` and `outage`: the part runs and is not stopped."""
    with contextlib.suppress(RuntimeError, psutil.Error):
        _signal_all(_processes(part, configuration), signal.SIGCONT)
    start_part(settings_for(configuration), part)
    return "running"
