"""Runs a policy's gates: independent gates in parallel, exclusive ones alone, each with
its timeout and retries (for `error` only), then applies the policy's checks.

A gate that raises, times out or returns nothing is an `error` with the reason;
missing data never passes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import GateContext, ToolNotFound, run_tool
from reelgate.gates.judge import apply_rule, summarize
from reelgate.gates.model import Check, GateResult
from reelgate.gates.policy import CheckRule, GateSpec, LoadedPolicy
from reelgate.gates.remote import refusal

log = logging.getLogger("reelgate.gates.runner")

Baselines = Callable[[str, str], Awaitable[float | None]]
"""(gate id, check name) -> the baseline value, for `baseline: last_promoted`."""
OnEvent = Callable[[str, GateSpec, GateResult | None], None]


def _ignore(_kind: str, _spec: GateSpec, _result: GateResult | None) -> None:
    return None


class RunOptions(msgspec.Struct, kw_only=True):
    """Everything a run needs besides the policy; built once by the caller."""

    target: str
    workdir: Path
    baseline_url: str | None = None
    api_key: str | None = None
    home: Path = Path(".")
    release_id: str | None = None
    last_promoted: Baselines | None = None
    on_event: OnEvent = _ignore
    source_dir: Path | None = None
    python: str | None = None
    live_commit: str | None = None
    color: str | None = None
    """The color under test (a release's candidate), for gates that act on its processes."""


class Runner:
    def __init__(
        self, loaded: LoadedPolicy, gate_types: dict[str, type[Any]], options: RunOptions, hooks: Any = None
    ) -> None:
        self.loaded = loaded
        self.gate_types = gate_types
        self.options = options
        self.hooks = hooks
        self._changed: list[str] | None = None
        self._changed_asked = False

    async def run(self, phase: str = "pre") -> list[GateResult]:
        """Run every gate of `phase`; parallel groups first, then each exclusive gate alone."""
        specs = [s for s in self.loaded.policy.gates if s.phase == phase]
        shared = [s for s in specs if not s.exclusive]
        alone = [s for s in specs if s.exclusive]
        results: dict[str, GateResult] = {}
        stop = asyncio.Event()

        async def one(spec: GateSpec) -> None:
            if stop.is_set():
                results[spec.id] = self._skipped(spec, "skipped: a required gate already failed (fail_fast)")
                return
            unwanted = await self._left_out(spec)
            if unwanted:
                results[spec.id] = self._skipped(spec, unwanted)
                results[spec.id].skipped_on_purpose = True
                self.options.on_event("finished", spec, results[spec.id])
                return
            result = await self.run_gate(spec)
            results[spec.id] = result
            if self.loaded.policy.fail_fast and spec.required and result.verdict in ("fail", "error"):
                stop.set()

        tasks = [asyncio.create_task(one(spec)) for spec in shared]
        if tasks:
            await self._until_done_or_stopped(tasks, stop)
        for spec in alone:
            await one(spec)
        for spec in specs:  # cancelled by fail_fast
            results.setdefault(spec.id, self._skipped(spec, "skipped: cancelled by fail_fast"))
        return [results[s.id] for s in specs]

    async def _until_done_or_stopped(self, tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
        waiter = asyncio.create_task(stop.wait())
        pending: set[asyncio.Task[Any]] = set(tasks)
        try:
            while pending - {waiter}:
                done, pending = await asyncio.wait(pending | {waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter in done:
                    break
        finally:
            # fail_fast, or the run itself cancelled (an expired service run): `asyncio.wait` leaves the
            # gates' tasks running when it is cancelled, so stop them here, tools and all
            for task in pending | {waiter}:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _left_out(self, spec: GateSpec) -> str | None:
        """Why the policy's `when` leaves this gate out, or None to run it."""
        if spec.when is None:
            return None
        unset = [name for name in spec.when.env if not os.environ.get(name)]
        if unset:
            return f"skipped by its `when`: {', '.join(unset)} is not set"
        if not spec.when.changed:
            return None
        changed = await self._changed_files()
        if changed is None:  # cannot tell what changed: run the gate rather than skip evidence
            return None
        if any(fnmatch.fnmatch(path, glob) for path in changed for glob in spec.when.changed):
            return None
        since = (self.options.live_commit or "")[:12]
        return f"skipped by its `when`: none of the {len(changed)} files changed since {since} matches " + ", ".join(
            spec.when.changed
        )

    async def _changed_files(self) -> list[str] | None:
        """The files the candidate changes since the live color's commit (git), once per run."""
        if not self._changed_asked:
            self._changed_asked = True
            if self.options.source_dir is not None and self.options.live_commit:
                run = await run_tool(
                    ["git", "diff", "--name-only", self.options.live_commit, "HEAD"],
                    cwd=self.options.source_dir,
                    kill_after=60,
                )
                if run.exit_code == 0:
                    self._changed = run.stdout.decode().split()
        return self._changed

    def _skipped(self, spec: GateSpec, reason: str) -> GateResult:
        return GateResult(
            gate=spec.id,
            uses=spec.uses,
            verdict="skipped",
            reason=reason,
            required=spec.required,
            phase=spec.phase,
            target=self.options.target,
        )

    async def run_gate(self, spec: GateSpec) -> GateResult:
        """One gate with its retries: only `error` is tried again."""
        self.options.on_event("started", spec, None)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        result: GateResult | None = None
        attempts = 0
        for attempt in range(1, spec.retries + 2):
            attempts = attempt
            result = await self._attempt(spec, self._context(spec, self.options.target, f"attempt-{attempt}"))
            if result.verdict != "error":
                break
            log.warning("gate %s attempt %d: error: %s", spec.id, attempt, result.reason)
        assert result is not None
        if result.verdict not in ("error", "skipped"):
            result.checks += await self._live_baseline(spec, result)
        result = await self._judge(spec, result)
        result.attempts = attempts
        result.started_at = started_at
        result.duration_s = round(time.monotonic() - started, 3)
        result.required, result.phase, result.target = spec.required, spec.phase, self.options.target
        self.options.on_event("finished", spec, result)
        if self.hooks is not None:
            try:
                self.hooks.gate_finished(result=result)
            except Exception:  # a notification never breaks a release
                log.exception("a gate_finished hook failed")
        return result

    def _context(self, spec: GateSpec, target: str, folder: str) -> GateContext:
        workdir = self.options.workdir / spec.id / folder
        workdir.mkdir(parents=True, exist_ok=True)
        return GateContext(
            gate_id=spec.id,
            target=target,
            config=self.loaded.configs[spec.id],
            workdir=workdir,
            baseline=self.options.baseline_url,
            api_key=self.options.api_key,
            home=self.options.home,
            release_id=self.options.release_id,
            source_dir=self.options.source_dir,
            python=self.options.python,
            live_commit=self.options.live_commit,
            color=self.options.color,
        )

    async def _live_baseline(self, spec: GateSpec, result: GateResult) -> list[Check]:
        """For checks with `baseline: live` that the gate did not measure on live itself (k6's
        `compare_live` does), run the same gate against the live color now and keep its values as
        `baseline:<name>`. Without a live URL, or when that run errors, the checks find no baseline
        and are `error`: missing data never passes."""
        wanted = {r.name for r in spec.checks if r.baseline == "live"}
        have = {c.name.removeprefix("baseline:") for c in result.checks if c.name.startswith("baseline:")}
        if not wanted - have or not self.options.baseline_url:
            return []
        live = await self._attempt(spec, self._context(spec, self.options.baseline_url, "live"))
        result.artifacts += live.artifacts
        result.series += [msgspec.structs.replace(s, label="live") for s in live.series]
        if live.verdict in ("error", "skipped"):
            log.warning("gate %s against live: %s: %s", spec.id, live.verdict, live.reason)
            return []
        return [
            Check(name=f"baseline:{c.name}", value=c.value, unit=c.unit)
            for c in live.checks
            if c.name in wanted - have and c.value is not None
        ]

    async def _attempt(self, spec: GateSpec, ctx: Any) -> GateResult:
        why = refusal(self.gate_types[spec.uses], ctx.config, ctx.target)
        if why is not None:
            return GateResult(
                gate=spec.id, uses=spec.uses, verdict="error", reason=f"cannot run on {ctx.target}: {why}"
            )
        gate = self.gate_types[spec.uses]()
        try:
            result = await asyncio.wait_for(gate.run(ctx), spec.timeout)
        except ToolNotFound as exc:
            return GateResult(gate=spec.id, uses=spec.uses, verdict="error", reason=f"a tool is missing: {exc}")
        except TimeoutError:
            return GateResult(
                gate=spec.id,
                uses=spec.uses,
                verdict="error",
                reason=f"the gate did not finish within its timeout of {spec.timeout:g} s",
            )
        except Exception as exc:  # a broken plugin is an error verdict, never a crash of the release
            log.exception("gate %s raised", spec.id)
            return GateResult(
                gate=spec.id, uses=spec.uses, verdict="error", reason=f"the gate crashed: {type(exc).__name__}: {exc}"
            )
        if not isinstance(result, GateResult):
            return GateResult(
                gate=spec.id,
                uses=spec.uses,
                verdict="error",
                reason=f"the gate returned {type(result).__name__}, not a GateResult",
            )
        result.gate, result.uses = spec.id, spec.uses
        return result

    async def _judge(self, spec: GateSpec, result: GateResult) -> GateResult:
        if result.verdict in ("error", "skipped") or not spec.checks:
            result.checks = [c for c in result.checks if not c.name.startswith("baseline:")]
            return summarize(result)
        measured = {c.name: c for c in result.checks}
        judged: list[Check] = []
        on_missing = self.loaded.policy.on_missing_baseline
        for rule in spec.checks:
            baseline = await self._baseline(spec, rule, measured)
            check = apply_rule(measured, rule, baseline, on_missing)
            if check.value is None and result.verdict == "fail":
                # The gate already failed (e.g. its tests broke): an unmeasured value is moot, not an error.
                check.verdict, check.note = "skipped", "not measured: the gate failed before measuring it"
            judged.append(check)
        names = {rule.name for rule in spec.checks}
        # `baseline:<name>` values are inputs to the judgement, not checks of their own.
        untouched = [c for c in result.checks if c.name not in names and not c.name.startswith("baseline:")]
        result.checks = judged + untouched
        return summarize(result)

    async def _baseline(self, spec: GateSpec, rule: CheckRule, measured: dict[str, Check]) -> float | None:
        if rule.baseline == "live":
            found = measured.get(f"baseline:{rule.name}")
            return found.value if found else None
        if rule.baseline == "last_promoted" and self.options.last_promoted is not None:
            return await self.options.last_promoted(spec.id, rule.name)
        return None
