"""Every state a release enters and every switch reaches the plugins (`release_state_changed`,
`traffic_switched`); a required post-promotion gate that ends `skipped` switches back, as it blocks before
promotion; `release rollback` and `abort` are in the audit log with their actor.

The releases run in this process, with the engine's own classes on the real stack (HEAD built and started as
the idle color, HAProxy switching), so that the test can add two plugins of its own: a recorder of the event
hooks, and a gate type that returns `skipped` (as a gate that found nothing to measure does)."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from reelgate.gates.api import GateContext, GateResult, hookimpl
from reelgate.gates.manager import Registry, build_manager
from reelgate.gates.policy import LoadedPolicy, load_policy
from reelgate.gates.release import ReleaseManager
from reelgate.gates.settings import engine_settings
from reelgate.gates.store import Store
from tests.integration.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


class NoEvidenceConfig(msgspec.Struct, forbid_unknown_fields=True):
    pass


class NoEvidence:
    """A gate that ran and found nothing to measure: `skipped`, not on purpose."""

    name = "no-evidence"
    Config = NoEvidenceConfig

    async def run(self, ctx: GateContext) -> GateResult:
        return GateResult(gate="", uses="", verdict="skipped", reason="the target had nothing to measure")


class Recorder:
    def __init__(self) -> None:
        self.states: list[tuple[str, str, str]] = []
        self.switches: list[tuple[str, str, str]] = []

    @hookimpl
    def register_gates(self, register: Any) -> None:
        register(NoEvidence)

    @hookimpl
    def release_state_changed(self, release_id: str, state: str, reason: str, actor: str) -> None:
        self.states.append((release_id, state, actor))

    @hookimpl
    def traffic_switched(self, release_id: str, color: str, reason: str) -> None:
        self.switches.append((release_id, color, reason))


class Engine:
    def __init__(self, stack: Stack, recorder: Recorder) -> None:
        pm = build_manager()
        pm.register(recorder, name="recorder")
        self.registry = Registry()
        pm.hook.register_gates(register=self.registry.adder("gates"))
        pm.hook.register_routers(register=self.registry.adder("routers"))
        pm.hook.register_deployers(register=self.registry.adder("deployers"))
        pm.hook.register_reporters(register=self.registry.adder("reporters"))
        self.stack, self.said = stack, list[str]()
        self.store = Store(engine_settings(stack.env).db_url)
        self.store.migrate()
        self.manager = ReleaseManager(engine_settings(stack.env), self.store, self.registry, pm.hook, self.said.append)

    def policy(self, name: str, body: str) -> LoadedPolicy:
        path = self.stack.home / f"{name}.yaml"
        deployer = f'deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\nscale_down_delay: 1\n'
        path.write_text(deployer + textwrap.dedent(body))
        r = self.registry
        return load_policy(path, r.gates, r.routers, r.deployers)


@pytest.fixture()
def engine(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Recorder]]:
    for name, value in stack.env.items():
        if name.startswith("REELGATE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("REELGATE_ACTOR", os.environ.get("REELGATE_ACTOR", ""))
    monkeypatch.chdir(stack.home)
    recorder = Recorder()
    engine = Engine(stack, recorder)
    try:
        yield engine, recorder
    finally:
        engine.store.close()


def live(engine: Engine) -> str:
    return engine.store.live()[0]


def test_hook_traffic_switched(engine: tuple[Engine, Recorder]) -> None:
    """A required post gate that ends `skipped` switches back (before the fix the release was promoted with
    no evidence after the switch), and both switches reach the plugins."""
    eng, recorder = engine
    before = live(eng)
    policy = eng.policy(
        "post-skipped",
        """
        gates:
          - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}
          - {id: evidence, uses: no-evidence, phase: post}
        """,
    )
    release = asyncio.run(eng.manager.start("HEAD", policy))
    assert release.state == "rolled_back", eng.said
    assert release.decision is not None and "post-promotion gate `evidence` did not run" in release.decision.reason
    assert live(eng) == before
    candidate = "green" if before == "blue" else "blue"
    assert [(r, c) for r, c, _ in recorder.switches] == [(release.id, candidate), (release.id, before)]
    assert "missing evidence after promotion" in recorder.switches[1][2]


def test_hook_release_state_changed(engine: tuple[Engine, Recorder]) -> None:
    """Every state of a release that is approved, then rolled back, and of one that is aborted, reaches the
    plugins with who moved it; the rollback and the abort are in the audit log with their actor."""
    eng, recorder = engine
    os.environ["REELGATE_ACTOR"] = "alice"  # the fixture's monkeypatch puts the environment back
    policy = eng.policy(
        "approve", "approval: true\ngates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n"
    )
    waiting = asyncio.run(eng.manager.start("HEAD", policy))
    assert waiting.state == "awaiting_approval"
    promoted = asyncio.run(eng.manager.approve(waiting.id, policy))
    assert promoted.state == "promoted"
    rolled = asyncio.run(eng.manager.rollback(policy, "the dashboard looks wrong"))
    assert rolled.state == "rolled_back"
    states = [s for r, s, _ in recorder.states if r == waiting.id]
    assert states == [
        "deploying", "gating", "awaiting_approval", "switching", "watching", "promoted", "rolled_back"
    ]  # fmt: skip
    assert recorder.states[-1][2] == "alice"  # the rollback's actor is the person, not the engine
    assert recorder.switches[-1][1] == live(eng) and "rollback: the dashboard looks wrong" in recorder.switches[-1][2]

    second = asyncio.run(eng.manager.start("HEAD", policy))
    aborted = asyncio.run(eng.manager.abort(policy, "not today"))
    assert aborted.state == "aborted" and recorder.states[-1][:2] == (second.id, "aborted")

    audit = eng.stack.cli("audit", "--since", "1h").stdout
    assert "release.rollback" in audit and "the dashboard looks wrong" in audit and "alice" in audit
    assert "release.abort" in audit and "not today" in audit
