"""The chaos gate on a real stack: it kills the idle color's worker (mid-job) and API while the live
color takes traffic through the router, which sees no failure; nothing accepted is lost."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.chaostoolkit import ChaosGate
from tests.integration.conftest import Stack
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
    finally:
        stack.cli("stack", "color", "stop", idle, "--drain-to", live)
    assert result.verdict == "pass", result.reason
    checks = {c.name: c.value for c in result.checks}
    assert traffic.failed == 0 and traffic.ok > 500, traffic.failures[:3]  # the live color, through the router
    assert checks["worker-kill.jobs_lost"] == 0 and checks["api-kill.jobs_lost"] == 0
    assert 0 < (checks["worker-kill.recovery_s"] or 99) < 30  # the job finished after the restart
    assert checks["api-kill.requests_failed"] and checks["api-kill.requests_failed"] > 0  # it did die
    assert 0 < (checks["api-kill.availability"] or 0) < 1 and (checks["api-kill.recovery_s"] or 99) < 30
    journals = [a for a in result.artifacts if a.endswith("journal.json")]
    assert len(journals) == 2


def test_an_experiment_on_shared_parts_is_refused_without_a_reason(stack: Stack, tmp_path: Path) -> None:
    shared = tmp_path / "valkey.yaml"
    shared.write_text("version: 1.0.0\ntitle: Valkey goes away\ntags: [shared]\nmethod: []\n")
    config = {"experiments": [str(shared)], "color": "green"}
    result = run_gate_sync(ChaosGate, config, stack.router, tmp_path / "w", api_key="rg_x")
    assert result.verdict == "error" and "acts on what the live color shares" in result.reason
