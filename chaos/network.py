"""Actions on the wire between the platform and PostgreSQL or Valkey, through the chaos proxy
(`reelgate.chaos.proxy`): add latency, or drop the connections. Only on a stack whose
`dependency_proxy` setting is on (`reelgate chaos run` makes one).

Each fault is written with its own end, so it stops on time even if this process is killed; the
action also clears it in a `finally`, and the rollback `restore` clears it once more.
"""

from __future__ import annotations

import time
from typing import Any

from reelgate.chaos.proxy import PARTS, Fault, clear_fault, socket_path, write_fault
from reelgate.chaos.services import bounded
from reelgate.chaos.stack import settings_for
from reelgate.platform.settings import Settings

MAX_LATENCY_MS = 5000


def _proxied(part: str, configuration: dict[str, Any] | None) -> Settings:
    if part not in PARTS:
        raise ValueError(f"expected postgres or valkey, found {part!r}")
    settings = settings_for(configuration)
    if not settings.dependency_proxy or not socket_path(settings, part).exists():
        raise RuntimeError(
            f"the stack at {settings.root} does not reach {part} through the chaos proxy (setting "
            "dependency_proxy); `reelgate chaos run` starts a stack that does"
        )
    return settings


def _hold(settings: Settings, part: str, fault: Fault) -> None:
    write_fault(settings, part, fault)
    try:
        time.sleep(max(0.0, fault.until - time.time()))
    finally:
        clear_fault(settings, part)


def slow(part: str, latency_ms: float, seconds: float, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Delay every chunk to and from `part` by `latency_ms` for `seconds`."""
    if not 0 < latency_ms <= MAX_LATENCY_MS:
        raise ValueError(f"expected a latency of 0 to {MAX_LATENCY_MS} ms, found {latency_ms}")
    settings = _proxied(part, configuration)
    _hold(settings, part, Fault(latency_ms=latency_ms, until=time.time() + bounded(seconds)))
    return {"part": part, "latency_ms": latency_ms, "for_s": seconds}


def cut(part: str, seconds: float, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Close every connection to `part` and refuse new ones for `seconds`."""
    settings = _proxied(part, configuration)
    _hold(settings, part, Fault(drop=True, until=time.time() + bounded(seconds)))
    return {"part": part, "dropped_for_s": seconds}


def restore(part: str, configuration: dict[str, Any] | None = None) -> str:
    """Rollback of `slow` and `cut`: no fault on `part`."""
    clear_fault(settings_for(configuration), part)
    return "restored"
