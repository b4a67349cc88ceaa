"""The chaos gate on a real stack: it kills the idle color's worker (mid-job) and API while the live
color takes traffic through the router, which sees no failure; nothing accepted is lost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from reelgate.chaos.probes import queue_depth
from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.chaostoolkit import ChaosGate
from tests.integration.stack import REELGATE, Stack, free_port_base
from tests.load import Load

ROOT = Path(__file__).parents[2]


def test_the_gate_kills_the_candidates_processes_and_the_live_color_feels_nothing(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = httpx.get(f"{stack.router}/health/version", timeout=5).json()["color"]
    idle = "green" if live == "blue" else "blue"
    stack.cli("stack", "color", "start", idle)
    monkeypatch.setenv("REELGATE_HOME", str(stack.home))  # the engine's stack, as `reelgate release` has it
    monkeypatch.setenv("REELGATE_PORT_BASE", str(stack.settings.port_base))
    key = stack.tenant("chaos-gates", "--rate-limit", "0")
    experiments = [str(ROOT / "chaos/experiments/worker-kill.yaml"), str(ROOT / "chaos/experiments/api-kill.yaml")]
    try:
        with Load(f"{stack.router}/v1/videos?limit=5", key, rate=50, limit_s=240) as traffic:
            result = run_gate_sync(
                ChaosGate, {"experiments": experiments, "color": idle}, stack.ctx.url(idle), tmp_path, api_key=key
            )
        waiting = queue_depth(idle)  # every job of the experiments ran: the killed worker's queue is empty
    finally:
        stack.cli("stack", "color", "stop", idle, "--drain-to", live)
    assert result.verdict == "pass", result.reason
    assert waiting == 0
    checks = {c.name: c.value for c in result.checks}
    assert traffic.failed == 0 and traffic.ok > 500, traffic.failures[:3]  # the live color, through the router
    assert checks["worker-kill.jobs_lost"] == 0 and checks["api-kill.jobs_lost"] == 0
    assert 0 < (checks["worker-kill.recovery_s"] or 99) < 30  # the job finished after the restart
    assert checks["api-kill.requests_failed"] and checks["api-kill.requests_failed"] > 0  # it did die
    assert 0 < (checks["api-kill.availability"] or 0) < 1 and (checks["api-kill.recovery_s"] or 99) < 30
    # HAProxy's health check saw the killed API go down, then come back (fall 2, rise 1, every 0.5 s).
    assert 0 < (checks["api-kill.router-marks-it-down"] or 0) < 10
    assert 0 < (checks["api-kill.router-marks-it-up-again"] or 0) < 30
    journals = [a for a in result.artifacts if a.endswith("journal.json")]
    assert len(journals) == 2


def test_chaos_run_puts_shared_experiments_on_a_stack_of_their_own() -> None:
    """On a stack `reelgate chaos run` starts (and stops) for the purpose: the media volume full (a
    loop-file volume it mounts), then PostgreSQL 100 ms late each way (through its proxy), 8 s each.
    The clip in flight when the disk filled waits and ends ready; the steady state's scenario passes."""
    home = Path(tempfile.mkdtemp(prefix="rg-chaos-"))  # short: supervisord's socket path has a limit
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env.update(REELGATE_HOME=str(home), REELGATE_TOOLS_DIR=os.environ.get("REELGATE_TOOLS_DIR", ""))
    env.update(REELGATE_CHAOS_FAULT_S="8")  # each fault lasts 8 s instead of the experiments' 30 and 20
    base = free_port_base()
    experiments = [str(ROOT / f"chaos/experiments/{name}.yaml") for name in ("disk-full", "latency")]
    done = subprocess.run(
        [REELGATE, "chaos", "run", *experiments, "--port-base", str(base), "--media-volume-mb", "256"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ports {base}-{base + 4}" in done.stderr and "PASS" in done.stdout
    assert "disk-full.jobs_lost" in done.stdout and "latency.jobs_lost" in done.stdout
    runs = home / "var/chaos-stack/runs"
    disk = json.loads(next(runs.glob("*/disk-full/journal.json")).read_text())
    assert disk["steady_states"]["before"]["steady_state_met"] and not disk["deviated"]
    assert disk["run"][0]["output"]["free_mb"] < 1  # the volume was full
    worker = (home / "var/chaos-stack/var/log/worker-blue.log").read_text()
    assert "waits: the media store is full" in worker  # a job found no room, and ended ready later
    latency = json.loads(next(runs.glob("*/latency/journal.json")).read_text())
    assert latency["run"][0]["output"] == {"part": "postgres", "latency_ms": 100, "for_s": 8}
    assert not any(_listening(base + i) for i in range(5))  # the stack is down again
    assert not os.path.ismount(home / "var/chaos-stack/var/media")
    shutil.rmtree(home, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
