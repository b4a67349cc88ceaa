"""Talking to the stack's supervisord over its XML-RPC socket: start, stop and ask about parts."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import psutil
from supervisor.xmlrpc import SupervisorTransport

from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError


def _rpc(settings: Settings) -> xmlrpc.client.ServerProxy:
    sock = settings.run_dir / "supervisor.sock"
    transport = SupervisorTransport(None, None, f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def supervisor_running(settings: Settings) -> bool:
    try:
        state = cast(dict[str, Any], _rpc(settings).supervisor.getState())
        return state["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def process_info(settings: Settings) -> dict[str, dict[str, object]]:
    if not supervisor_running(settings):
        return {}
    infos = cast(list[dict[str, object]], _rpc(settings).supervisor.getAllProcessInfo())
    return {str(info["name"]): info for info in infos}


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll `condition` until it is true; raise StackError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if condition():
                return
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def start_part(settings: Settings, name: str) -> None:
    info = process_info(settings).get(name)
    if info and info["statename"] in ("RUNNING", "STARTING"):
        return
    try:
        _rpc(settings).supervisor.startProcess(name, True)
    except xmlrpc.client.Fault as fault:
        log = settings.log_dir / f"{name}.log"
        tail = _tail(log, 15)
        raise StackError(f"{name} did not start ({fault.faultString}); last lines of {log}:\n{tail}") from None


def stop_part(settings: Settings, name: str) -> None:
    info = process_info(settings).get(name)
    if not info or info["statename"] not in ("RUNNING", "STARTING", "BACKOFF"):
        return
    with contextlib.suppress(xmlrpc.client.Fault):
        _rpc(settings).supervisor.stopProcess(name, True)


def shutdown_supervisor(settings: Settings) -> None:
    """Ask supervisord to stop; one that is already gone is not an error."""
    with contextlib.suppress(OSError, xmlrpc.client.Error):
        _rpc(settings).supervisor.shutdown()


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start_supervisor(settings: Settings) -> None:
    if supervisor_running(settings):
        return
    (settings.run_dir / "supervisor.sock").unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(settings.var / "supervisord.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"supervisord did not start: {result.stderr.strip() or result.stdout.strip()}")
    wait_until(lambda: supervisor_running(settings), 15, "supervisord")


def reap_stale_supervisor(pidfile: Path) -> None:
    """A supervisord that no longer answers but still runs is stopped by its PID."""
    if not pidfile.exists():
        return
    with contextlib.suppress(ValueError, psutil.Error):
        proc = psutil.Process(int(pidfile.read_text()))
        if "supervisord" in " ".join(proc.cmdline()):
            proc.terminate()
            proc.wait(30)
    pidfile.unlink(missing_ok=True)
