"""The public plugin API: what a plugin (built-in or third-party) imports.

    from reelgate.gates.api import GateContext, GateResult, Check, hookimpl

    class MyConfig(msgspec.Struct, forbid_unknown_fields=True):
        limit: int = 3

    class MyGate:
        name = "my-gate"
        Config = MyConfig
        async def run(self, ctx: GateContext) -> GateResult: ...

    @hookimpl
    def register_gates(register):
        register(MyGate)

Each kind of plugin has a contract here (`GateType`, `Router`, `Deployer`,
`Reporter`); the manager checks a class against it when it is registered and
refuses it, naming what is missing. Name a plugin's config at module level
(`MyConfig`, then `Config = MyConfig` in the class), so that type checkers see
the type of `__init__(config, ...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec
import pluggy

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.contract.media import clip_command
from reelgate.gates.model import (
    Check,
    Decision,
    Finding,
    GateResult,
    Report,
    Verdict,
    error_result,
    measured,
    unmeasured,
    worst,
)

hookimpl = pluggy.HookimplMarker("reelgate")

__all__ = [
    "Check",
    "Decision",
    "DeployError",
    "Deployer",
    "Deployment",
    "Finding",
    "GateContext",
    "GateResult",
    "GateType",
    "PluginContext",
    "Reporter",
    "Router",
    "RouterError",
    "Say",
    "ToolNotFound",
    "ToolRun",
    "Verdict",
    "error_result",
    "hookimpl",
    "http_ready",
    "make_clip",
    "measured",
    "run_tool",
    "unmeasured",
    "worst",
]

Say = Callable[[str], None]
"""Tells the person running the release what is happening, one line at a time."""

A = TypeVar("A", bound=answers.Answer)


class PluginContext(msgspec.Struct, frozen=True, kw_only=True):
    """Where the local stack is, given to routers and deployers when they are built.

    Plugins take ports and paths from here rather than from the environment, so one
    process can drive two stacks (the tests do) and a plugin is easy to build in a test.
    """

    home: Path
    """The checkout running the release (holds `var/`)."""
    port_base: int = 8400
    """Ports: router +0, blue +1, green +2, PostgreSQL +3, Valkey +4."""
    reelgate: str = "reelgate"
    """The checkout's own `reelgate` command (the release runner's, not a candidate's)."""
    host: str = "127.0.0.1"

    @property
    def var(self) -> Path:
        return self.home / "var"

    def port(self, part: str) -> int:
        return contract.port(self.port_base, part)

    def url(self, part: str) -> str:
        return f"http://{self.host}:{self.port(part)}"

    def path(self, value: str | Path) -> Path:
        """`value` as an absolute path; a relative one is relative to the checkout."""
        path = Path(value)
        return path if path.is_absolute() else self.home / path

    def env(self) -> dict[str, str]:
        """The environment for the checkout's own CLI: this process's, pointed at this stack."""
        return {**os.environ, "REELGATE_HOME": str(self.home), "REELGATE_PORT_BASE": str(self.port_base)}


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
    live_commit: str | None = None
    """The commit the live color runs, when known (for what changed since, e.g. diff coverage)."""


class Deployment(msgspec.Struct, kw_only=True):
    """What a deployer hands the engine: where the candidate is and what the gates need to reach it."""

    url: str
    """Where the candidate answers."""
    live_url: str | None = None
    """Where the live color answers directly, for checks with `baseline: live` (None: no such checks)."""
    api_key: str | None = None
    """A key of a tenant on the candidate's own database, for the gates (made by the deployer)."""
    build_dir: str | None = None
    """The build (a venv) the candidate color runs, kept for a later rollback."""
    source_dir: str | None = None
    commit: str | None = None
    python: str | None = None


class Checkout(msgspec.Struct, kw_only=True):
    """A candidate's source at one commit, and its build when asked for: what the gates that read the
    source (`needs: source_tree`) or run its tests (`needs: build`) work on, with nothing started."""

    commit: str
    source_dir: str
    python: str | None = None
    build_dir: str | None = None


class DeployError(Exception):
    """The candidate could not be built or started; the message says which step and why, and `code` the
    failure a `--json` command answered with (`no_such_tenant`...), when one did."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class RouterError(Exception):
    """The router refused or could not confirm a switch; the message says what it answered."""


# -- the contracts, one per kind of plugin -------------------------------------------------
# Only the members a plugin must have are listed; `manager.Registry` checks them at load.


class GateType(Protocol):
    """Measures one thing about a target and returns a verdict. Built with no arguments.

    A gate type states what it needs in `needs` (default: `{"url"}`): `url` (it measures the target over
    HTTP), `local_processes` (it acts on the candidate's processes on this machine, so it cannot judge a
    remote candidate), `source_tree` (it reads the candidate's source). One without `url` (coverage) cannot
    have `baseline: live` checks; for one with it, the engine runs the gate a second time against the live
    color for such checks (unless it reported `baseline:<name>` values itself). A gate whose config has
    `allowed_hosts` acts only on loopback and those hosts (`host_refusal`). `build` means it runs the candidate's
    own interpreter (coverage runs its tests), so the gate service builds the candidate for it.
    """

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]

    async def run(self, ctx: GateContext) -> GateResult:
        """Measure `ctx.target`; `error` when the tool cannot measure, never a pass without data."""
        ...


class Router(Protocol):
    """Switches live traffic between the colors. Built as `Router(config, ctx: PluginContext)`."""

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]

    async def live(self) -> str | None:
        """The color taking traffic now, or None when none or both do."""
        ...

    async def healthy(self, color: str) -> bool:
        """Whether `color` answers its readiness probe."""
        ...

    async def switch(self, color: str) -> None:
        """Send all traffic to `color` and confirm it; raise `RouterError` when refused or not confirmed."""
        ...


class Deployer(Protocol):
    """Starts a candidate beside the live color and stops it. Built as `Deployer(config, ctx: PluginContext)`.

    May also have `async cleanup(release_id)`, called once a release has ended, and `async checkout(folder,
    ref, say, build) -> Checkout` with `async remove_checkout(folder)`: the candidate's source (and build)
    without starting it, for the gate service's runs of a commit.
    """

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]

    async def deploy(self, release_id: str, ref: str, color: str, say: Say) -> Deployment:
        """Build and start `ref` as `color`; raise `DeployError` naming the step that failed."""
        ...

    async def start(self, color: str, build_dir: str | None) -> None:
        """(Re)start `color`, on `build_dir`'s build when given (a rollback restarts the previous build)."""
        ...

    async def stop(self, color: str, drain_to: str | None = None) -> None:
        """Stop `color`; with `drain_to`, its waiting work moves to that color."""
        ...


class Reporter(Protocol):
    """Writes one file from a release's results. Built with no arguments."""

    name: ClassVar[str]
    suffix: ClassVar[str]

    def write(self, report: Report, path: Path) -> None:
        """Write `report` to `path` (which ends in `suffix`)."""
        ...


Trigger = Literal[
    "started", "gate_failed", "awaiting_approval", "promoted", "blocked", "switched_back", "rolled_back", "aborted",
    "errored",
]  # fmt: skip
"""What a release went through that a notifier may be told of."""


class FailedCheck(msgspec.Struct, kw_only=True):
    gate: str
    check: str
    """The check's name, or the gate's reason when it failed without one (a gate that errored)."""
    verdict: str
    value: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    unit: str = ""


class Notification(msgspec.Struct, kw_only=True):
    """One thing that happened to a release, for the notifiers: delivered once per (event, notifier)."""

    event_id: str
    """The same for every delivery of this (release, transition): a receiver can drop a repeat."""
    trigger: Trigger
    release_id: str
    candidate: str
    state: str
    reason: str
    failed_checks: list[FailedCheck] = []
    report: str | None = None
    """The release's HTML report (a path on the runner's machine, or a URL with `report_url`)."""
    dashboard: str | None = None
    at: datetime


class Outgoing(msgspec.Struct, kw_only=True):
    """The HTTP request a notifier wants sent (the engine sends it, retries it, and records the outcome)."""

    url: str
    body: bytes
    headers: dict[str, str] = {}


class NotifyError(Exception):
    """A notifier that cannot build its request (a missing secret, no URL): recorded, never raised further."""


class Notifier(Protocol):
    """Tells someone what happened to a release. Built as `Notifier(config)`."""

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]

    def request(self, event: Notification) -> Outgoing:
        """The POST that delivers `event`; raise `NotifyError` when it cannot be made."""
        ...


CONTRACTS: dict[str, type[Any]] = {
    "gates": GateType,
    "routers": Router,
    "deployers": Deployer,
    "reporters": Reporter,
    "notifiers": Notifier,
}
"""Each registry table's contract."""


def contract_members(contract: type[Any]) -> dict[str, bool]:
    """The members a contract requires, each with whether it must be a coroutine function."""
    import inspect

    members = {name: False for name in getattr(contract, "__annotations__", {})}
    for name, value in vars(contract).items():
        if inspect.isfunction(value) and not name.startswith("_"):
            members[name] = inspect.iscoroutinefunction(value)
    return members


# -- helpers for plugin authors ---------------------------------------------------------------


class ToolNotFound(Exception):
    """The tool's executable is not installed; the message names it."""


class ToolRun(msgspec.Struct, kw_only=True):
    """One finished run of a tool."""

    args: list[str]
    exit_code: int
    """The exit code; negative when a signal ended it (-9 after a timeout)."""
    stdout: bytes
    stderr: bytes
    timed_out: bool = False

    def answer(self, kind: type[A]) -> A | answers.Failure:
        """The answer (`reelgate.contract.answers`) a `--json` command prints on its last line, decoded
        strictly, or the `Failure` it printed instead; an AnswerError (a ValueError) says what came."""
        lines = self.stdout.decode(errors="replace").strip().splitlines()
        return answers.decode(lines[-1] if lines else "", kind)

    def tail(self, lines: int = 5) -> str:
        """The last lines of the tool's stderr (or stdout), joined with ` | `, for a one-line reason."""
        text = (self.stderr or self.stdout).decode(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])


Need = Literal["url", "local_processes", "source_tree", "build"]


def needs(gate_type: type[Any]) -> frozenset[str]:
    """What a gate type needs to run (`GateType`); `{"url"}` when it does not say."""
    return frozenset(getattr(gate_type, "needs", ("url",)))


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_refusal(url: str, allowed: list[str]) -> str | None:
    """Why a gate that acts only where it is allowed to (a scanner) may not act on `url`, or None when it may:
    loopback, or a host the policy lists in the gate's `allowed_hosts`."""
    host = urlsplit(url).hostname or ""
    if is_loopback(url) or host in allowed:
        return None
    return f"it acts only on loopback and the policy's `allowed_hosts` ({', '.join(allowed) or 'none'}), not {host}"


async def run_tool(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    kill_after: float | None = None,
    log: Path | None = None,
    merge_stderr: bool = False,
) -> ToolRun:
    """Run a tool, wait for it and return its exit code and output.

    The tool runs in a process group of its own. After `kill_after` seconds, or when the calling task is
    cancelled (a gate's timeout, a fail_fast), the whole group is killed, so no child outlives
    it. With `log`, the command line and the output are appended to that file as well.
    Raises `ToolNotFound` when the executable does not exist.
    """
    args = [str(a) for a in args]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        if os.path.exists(args[0]):  # the script is there, its interpreter (its `#!` line) is not
            raise ToolNotFound(f"`{args[0]}` cannot start: the interpreter its first line names is missing") from None
        raise ToolNotFound(f"`{args[0]}` is not installed (not found on PATH)") from None
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), kill_after)
    except TimeoutError:
        timed_out = True
        _kill_group(proc)
        stdout, stderr = await proc.communicate()
    except asyncio.CancelledError:
        _kill_group(proc)
        await proc.wait()
        raise
    result = ToolRun(
        args=args, exit_code=proc.returncode or 0, stdout=stdout or b"", stderr=stderr or b"", timed_out=timed_out
    )
    if log is not None:
        with log.open("ab") as out:
            out.write(f"\n$ {' '.join(args)}\n".encode() + result.stdout + result.stderr)
    return result


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def http_ready(url: str, path: str = "/health/ready", within: float = 2.0) -> int | None:
    """The status code of `url + path` (readiness probe), or None when nothing answers `within` seconds."""
    try:
        async with httpx.AsyncClient(timeout=within) as client:
            return (await client.get(url.rstrip("/") + path)).status_code
    except httpx.HTTPError:
        return None


async def make_clip(path: Path, seconds: float = 1, size: str = "320x240", tag: str = "") -> Path:
    """An H.264 test clip (ffmpeg's testsrc2) of `seconds` at `size`, for gates that upload one. The
    platform reuses the renditions of a file it has seen; a `tag` (written as metadata) makes the file new."""
    run = await run_tool(clip_command(path, seconds, size, tag=tag), kill_after=120)
    if run.exit_code != 0 or run.timed_out:
        raise RuntimeError(f"could not make a test clip: {run.tail()}")
    return path
