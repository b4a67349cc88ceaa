"""The public plugin API: what a plugin (built-in or third-party) imports.

from reelgate.gates.api import GateContext, GateResult, Check, hookimpl

class MyGate:
    name = "my-gate"
    class Config(msgspec.Struct, forbid_unknown_fields=True):
        limit: int = 3
    async def run(self, ctx: GateContext) -> GateResult: ...

@hookimpl
def register_gates(register):
    register(MyGate)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

import msgspec
import pluggy

from reelgate.gates.model import Check, Decision, Finding, GateResult, Verdict, error_result, worst

hookimpl = pluggy.HookimplMarker("reelgate")

__all__ = [
    "Check",
    "Decision",
    "DeployError",
    "Deployment",
    "Finding",
    "GateContext",
    "GateResult",
    "GateType",
    "RouterError",
    "Verdict",
    "error_result",
    "hookimpl",
    "worst",
]


class GateContext(msgspec.Struct, kw_only=True):
    """What a gate gets for one run."""

    gate_id: str
    target: str
    """Base URL of the color under test (green during a release)."""
    config: Any
    """The gate's decoded `Config`."""
    workdir: Path
    """A folder of its own for artifacts; keep the tool's raw output here."""
    baseline: str | None = None
    """Base URL of the live color, when the policy compares against it."""
    api_key: str | None = None
    """A key of a tenant made for gating, for routes behind `Authorization: Bearer`."""
    home: Path = Path(".")
    """The checkout running the release (holds `var/`)."""
    release_id: str | None = None
    color: str | None = None
    source_dir: Path | None = None
    """The candidate's source (a git worktree of the release's commit), when there is one."""
    python: str | None = None
    """The candidate build's interpreter, for gates that run the candidate's own tests."""


class Deployment(msgspec.Struct, kw_only=True):
    url: str
    """Where the candidate answers."""
    build_dir: str | None = None
    """The build (a venv) the candidate color runs, kept for a later rollback."""
    source_dir: str | None = None
    commit: str | None = None
    python: str | None = None


class DeployError(Exception):
    """The candidate could not be built or started; the message says which step and why."""


class RouterError(Exception):
    """The router refused or could not confirm a switch; the message says what it answered."""


class GateType(Protocol):
    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]

    async def run(self, ctx: GateContext) -> GateResult: ...
