"""A dead man's switch for the actions that hold a fault: a detached process that runs the action's
rollback after the fault's time plus a grace period, unless the action lifted the fault itself and
disarmed it first.

The action's own `finally` lifts the fault in the normal case, and Chaos Toolkit runs the declared
rollbacks when an experiment is interrupted. This covers the case neither can: the action's process
killed outright (SIGKILL, or the gate's timeout killing the whole `chaos run` process group), which
would leave PostgreSQL stopped, or the media volume full. The switch runs in a session of its own, so
that kill does not reach it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

GRACE_S = 15.0


def arm(
    seconds: float,
    module: str,
    func: str,
    arguments: dict[str, Any],
    configuration: dict[str, Any] | None,
    grace_s: float = GRACE_S,
) -> subprocess.Popen[bytes]:
    """Start the switch: `module.func(**arguments, configuration=...)` runs in `seconds` + `grace_s`."""
    order = {"after": seconds + grace_s, "module": module, "func": func, "arguments": arguments}
    order["configuration"] = configuration or {}
    return subprocess.Popen(
        [sys.executable, "-m", "reelgate.chaos.deadman", json.dumps(order)],
        start_new_session=True,  # out of reach of a kill of the caller's process group
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def armed(
    seconds: float, module: str, func: str, arguments: dict[str, Any], configuration: dict[str, Any] | None
) -> Iterator[subprocess.Popen[bytes]]:
    """A switch that the end of the block disarms (the block lifted the fault itself)."""
    switch = arm(seconds, module, func, arguments, configuration)
    try:
        yield switch
    finally:
        with contextlib.suppress(ProcessLookupError):
            switch.send_signal(signal.SIGTERM)
        switch.wait(5)


def main(order: dict[str, Any]) -> None:
    time.sleep(float(order["after"]))
    rollback = getattr(importlib.import_module(order["module"]), order["func"])
    rollback(**order["arguments"], configuration=order["configuration"])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
