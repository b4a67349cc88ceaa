"""reelgate's hook specifications. Only specs live here.

Contribution hooks receive a `register` callback, so one plugin module can
contribute several things; event hooks are notifications and their return
values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from reelgate.gates.model import Decision, GateResult

hookspec = pluggy.HookspecMarker("reelgate")


# -- contribution hooks ----------------------------------------------------------


@hookspec
def register_gates(register: Callable[[type[Any]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(GateClass)` for each gate type.

    A gate type has a `name` (what a policy's `uses` names), a `Config` msgspec
    Struct with `forbid_unknown_fields=True`, and `async run(ctx) -> GateResult`.
    """


@hookspec
def register_routers(register: Callable[[type[Any]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(RouterClass)` for each router.

    A router switches live traffic between the colors: `name`, `Config`, `live()`,
    `switch(color)`.
    """


@hookspec
def register_deployers(register: Callable[[type[Any]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(DeployerClass)` for each deployer.

    A deployer starts a candidate beside the live color and stops it: `name`,
    `Config`, `deploy(ref, color) -> url`, `stop(color)`.
    """


@hookspec
def register_reporters(register: Callable[[type[Any]], None]) -> None:
    """Called once when the plugin manager loads. Call `register(ReporterClass)` for each reporter.

    A reporter writes one file from a release's results: `name`, `suffix`,
    `write(report, path)`.
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
