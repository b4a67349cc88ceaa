"""Helpers for authors of third-party gates: `pytest_plugins = ["reelgate.gates.testing"]`.

Fixtures:
- `run_gate(GateClass, config, target=..., checks=[...])` runs a gate through the real
  runner (config decoding, timeout, judgement) and returns its `GateResult`;
- `gate_context(config, target=...)` builds a `GateContext` for calling `run` directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from reelgate.gates.api import GateContext
from reelgate.gates.model import GateResult
from reelgate.gates.policy import parse_policy
from reelgate.gates.runner import Runner, RunOptions


def run_gate_sync(
    gate_type: type[Any],
    config: dict[str, Any],
    target: str,
    workdir: Path,
    checks: list[dict[str, Any]] | None = None,
    api_key: str | None = None,
    baseline_url: str | None = None,
) -> GateResult:
    """Run one gate through the real runner; with `baseline_url`, checks with `baseline: live` compare with it."""
    document = msgspec.json.encode(
        {"gates": [{"uses": gate_type.name, "with": config, "checks": checks or []}]}
    ).decode()
    loaded = parse_policy(document, f"<{gate_type.name} test>", {gate_type.name: gate_type})
    options = RunOptions(target=target, workdir=workdir, api_key=api_key, baseline_url=baseline_url)
    [result] = asyncio.run(Runner(loaded, {gate_type.name: gate_type}, options).run("pre"))
    return result


@pytest.fixture()
def run_gate(tmp_path: Path) -> Callable[..., GateResult]:
    def runner(
        gate_type: type[Any],
        config: dict[str, Any],
        target: str = "http://127.0.0.1",
        checks: list[dict[str, Any]] | None = None,
        api_key: str | None = None,
    ) -> GateResult:
        return run_gate_sync(gate_type, config, target, tmp_path, checks, api_key)

    return runner


@pytest.fixture()
def gate_context(tmp_path: Path) -> Callable[..., GateContext]:
    def build(config: Any, target: str = "http://127.0.0.1", gate_id: str = "gate") -> GateContext:
        return GateContext(gate_id=gate_id, target=target, config=config, workdir=tmp_path)

    return build
