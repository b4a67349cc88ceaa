"""reelgate's hook specifications. Only specs live here.

Contribution hooks receive a `register` callback, so one plugin module can
contribute several things; event hooks are notifications and their return
values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from reelgate.gates.api import Deployer, GateType, Notifier, Reporter, Router
    from reelgate.gates.model import Decision, GateResult

hookspec = pluggy.HookspecMarker("reelgate")


# -- contribution hooks ----------------------------------------------------------


@hookspec
def register_gates(register: Callable[[type[GateType]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(GateClass)` for each gate type.

    Contract: `reelgate.gates.api.GateType`: a `name` (what a policy's `uses` names), a
    `Config` msgspec Struct with `forbid_unknown_fields=True`, and `async run(ctx) -> GateResult`.
    Built with no arguments. A class that misses a member is refused at load.
    """


@hookspec
def register_routers(register: Callable[[type[Router]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(RouterClass)` for each router.

    Contract: `reelgate.gates.api.Router`: `name`, `Config`, `async live() -> str | None`,
    `async healthy(color) -> bool` and `async switch(color)` (raises `RouterError`). Built as
    `RouterClass(config, ctx: PluginContext)`.
    """


@hookspec
def register_deployers(register: Callable[[type[Deployer]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(DeployerClass)` for each deployer.

    Contract: `reelgate.gates.api.Deployer`: `name`, `Config`,
    `async deploy(release_id, ref, color, say) -> Deployment`, `async start(color, build_dir)`,
    `async stop(color, drain_to)` (all raise `DeployError`), and optionally `async cleanup(release_id)`.
    Built as `DeployerClass(config, ctx: PluginContext)`.
    """


@hookspec
def register_reporters(register: Callable[[type[Reporter]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(ReporterClass)` for each reporter.

    Contract: `reelgate.gates.api.Reporter`: `name`, `suffix` and `write(report, path)`, which
    writes one file from a release's results. Built with no arguments.
    """


@hookspec
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(NotifierClass)` for each notifier.

    Contract: `reelgate.gates.api.Notifier`: `name`, `Config` and `request(event) -> Outgoing`, the POST
    that tells someone of a `Notification` (the engine sends it once, with retries). Built as
    `NotifierClass(config)` with its decoded config from the policy's `notify:` list.
    """


# -- event hooks -------------------------------------------------------------------


@hookspec
def gate_finished(result: GateResult) -> None:
    """Called after each gate finishes (after its retries), with its final result.

    For notifications; the return value is ignored and an exception is logged, not raised.
    """


@hookspec
def release_decided(release_id: str, decision: Decision, results: list[GateResult]) -> None:
    """Called once a release's pre-promotion gates are decided (`promote` or `block`).

    For notifications; the return value is ignored and an exception is logged, not raised.
    """


@hookspec
def release_state_changed(release_id: str, state: str, reason: str, actor: str) -> None:
    """Called after every state a release enters, and so after every end state: `promoted`, `blocked`,
    `rolled_back` (a failed post gate or watch, a failed switch, `release rollback`, a recovery) and `aborted`.
    `reason` is the sentence the timeline keeps; `actor` who moved it (`reelgate` for the engine itself).

    For notifications; the return value is ignored and an exception is logged, not raised.
    """


@hookspec
def traffic_switched(release_id: str, color: str, reason: str) -> None:
    """Called after every switch of traffic the router confirmed: to the candidate, back after a failed post
    gate or watch, by `release rollback`, or by the recovery of a release whose runner died.

    For notifications; the return value is ignored and an exception is logged, not raised.
    """
