"""Runs a policy's gates: independent gates in parallel, exclusive ones alone, each with
its timeout and retries (for `error` only), then applies the policy's checks.

A gate that raises, times out or returns nothing is an `error` with the reason;
missing data never passes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reelgate.gates.model import Check, GateResult, Verdict, worst
from reelgate.gates.policy import CheckRule, GateSpec, LoadedPolicy

log = logging.getLogger("reelgate.gates.runner")

Baselines = Callable[[str, str], Awaitable[float | None]]
"""(gate id, check name) -> the baseline value, for `baseline: last_promoted`."""


class RunOptions:
    def __init__(
        self,
        *,
        target: str,
        workdir: Path,
        baseline_url: str | None = None,
        api_key: str | None = None,
        home: Path = Path("."),
        release_id: str | None = None,
        last_promoted: Baselines | None = None,
        on_event: Callable[[str, GateSpec, GateResult | None], None] | None = None,
    ) -> None:
        self.target = target
        self.workdir = workdir
        self.baseline_url = baseline_url
        self.api_key = api_key
        self.home = home
        self.release_id = release_id
        self.last_promoted = last_promoted
        self.on_event = on_event or (lambda _kind, _spec, _result: None)
        self.source_dir: Path | None = None
        self.python: str | None = None


def _compare(value: float, op: str, limit: float) -> bool:
    return {
        "<": value < limit,
        "<=": value <= limit,
        ">": value > limit,
        ">=": value >= limit,
        "==": value == limit,
        "!=": value != limit,
    }[op]


def relative_limit(baseline: float, op: str, max_regression: float, tolerance: float = 0.0) -> float:
    """The value allowed when it may be `max_regression` percent (and at least `tolerance`) worse."""
    margin = max(abs(baseline) * max_regression / 100, tolerance)
    return baseline + margin if op in ("<", "<=") else baseline - margin


def apply_rule(measured: dict[str, Check], rule: CheckRule, baseline: float | None) -> Check:
    """Judge one policy check against the gate's measurement (and the baseline, if asked)."""
    found = measured.get(rule.name)
    label = f"{rule.name} {rule.op}"
    if found is None or found.value is None:
        return Check(
            name=rule.name,
            value=None,
            op=rule.op,
            threshold=rule.threshold,
            verdict="error",
            note="the gate did not measure this value",
        )
    value = found.value
    breach: Verdict = "fail" if rule.severity == "fail" else "warn"
    check = Check(name=rule.name, value=value, unit=found.unit, op=rule.op, threshold=rule.threshold)
    notes: list[str] = []
    verdict: Verdict = "pass"
    if rule.threshold is not None and not _compare(value, rule.op, rule.threshold):
        verdict = breach
        notes.append(f"{value:g} is not {label} {rule.threshold:g}")
    if rule.baseline is not None:
        if baseline is None and rule.baseline == "last_promoted":
            # The first release a policy sees has no history: that is not a reason to block it.
            notes.append("no promoted release measured this yet: nothing to compare with")
        elif baseline is None:
            verdict = worst([verdict, "error"])
            notes.append(f"no {rule.baseline} baseline to compare with")
        else:
            check.baseline = baseline
            check.delta = value - baseline
            limit = relative_limit(baseline, rule.op, rule.max_regression or 0, rule.tolerance)
            if rule.threshold is None:
                check.threshold = round(limit, 6)
            if not _compare(value, rule.op, limit):
                verdict = worst([verdict, breach])
                notes.append(
                    f"{value:g} is more than {rule.max_regression:g}% worse than the "
                    f"{rule.baseline} baseline {baseline:g}"
                )
    check.verdict = verdict
    check.note = "; ".join(notes)
    return check


def summarize(result: GateResult) -> GateResult:
    """Set the verdict and the one-sentence reason from the checks and findings (unless error/skipped).

    A gate's own `fail` or `warn` stands even when every check passes: it never turns into a pass.
    """
    if result.verdict in ("error", "skipped"):
        return result
    own = [result.verdict] if result.verdict in ("fail", "warn") else []
    verdicts = [c.verdict for c in result.checks] + [f.verdict for f in result.findings] + own
    result.verdict = worst(verdicts)
    deciding = next((c for c in result.checks if c.verdict == result.verdict), None)
    finding = next((f for f in result.findings if f.verdict == result.verdict), None)
    if result.verdict == "pass":
        result.reason = result.reason or f"all {len(result.checks)} checks passed"
        if not result.checks and not result.findings:
            result.verdict = "error"
            result.reason = "the gate measured nothing (missing data never passes)"
    elif deciding is not None:
        detail = f": {deciding.note}" if deciding.note else ""
        result.reason = f"check `{deciding.name}` is {deciding.verdict}{detail}"
    elif finding is not None:
        result.reason = f"finding {finding.rule_id} ({finding.severity}): {finding.message}"
    return result


class Runner:
    def __init__(
        self, loaded: LoadedPolicy, gate_types: dict[str, type[Any]], options: RunOptions, hooks: Any = None
    ) -> None:
        self.loaded = loaded
        self.gate_types = gate_types
        self.options = options
        self.hooks = hooks

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
        while pending - {waiter}:
            done, pending = await asyncio.wait(pending | {waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                break
        waiter.cancel()

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
        from reelgate.gates.api import GateContext

        self.options.on_event("started", spec, None)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        result: GateResult | None = None
        attempts = 0
        for attempt in range(1, spec.retries + 2):
            attempts = attempt
            workdir = self.options.workdir / spec.id / f"attempt-{attempt}"
            workdir.mkdir(parents=True, exist_ok=True)
            ctx = GateContext(
                gate_id=spec.id,
                target=self.options.target,
                config=self.loaded.configs[spec.id],
                workdir=workdir,
                baseline=self.options.baseline_url,
                api_key=self.options.api_key,
                home=self.options.home,
                release_id=self.options.release_id,
                source_dir=self.options.source_dir,
                python=self.options.python,
            )
            result = await self._attempt(spec, ctx)
            if result.verdict != "error":
                break
            log.warning("gate %s attempt %d: error: %s", spec.id, attempt, result.reason)
        assert result is not None
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

    async def _attempt(self, spec: GateSpec, ctx: Any) -> GateResult:
        gate = self.gate_types[spec.uses]()
        try:
            result = await asyncio.wait_for(gate.run(ctx), spec.timeout)
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
        for rule in spec.checks:
            baseline = await self._baseline(spec, rule, measured)
            check = apply_rule(measured, rule, baseline)
            if check.value is None and result.verdict == "fail":
                # The gate already failed (e.g. its tests broke): an unmeasured value is moot, not an error.
                check.verdict, check.note = "skipped", "not measured: the gate failed before measuring it"
            if rule.baseline is not None:
                # Shown and waived apart from an absolute rule on the same value.
                check.name = f"{rule.name} vs {rule.baseline}"
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
