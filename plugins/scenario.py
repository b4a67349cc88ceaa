"""`scenario`: QA's scenario files (`scenarios/*.yaml`) run against the target as a release gate.

Each file runs `repeat` times; the gates' tenant key is `${secret.API_KEY}`. A step that fails is a
finding naming the file, the step and why, and fails the gate. A file whose `needs` the target lacks is
skipped with its reason (check `scenarios_skipped`); when every file is, the gate is `error`: it judged
nothing. Checks: `steps_passed`, `steps_failed`, `slowest_step_ms` and, when repeated,
`p95_ms:<scenario>/<step>`. With `baseline: live` the engine runs the same scenarios against the live color
in the same run.
"""

from __future__ import annotations

import glob
import math
import os
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import Check, Finding, GateContext, GateResult, hookimpl, unmeasured
from reelgate.gates.scenario import ScenarioError, ScenarioResult, load_scenario, run_loaded
from reelgate.gates.scenario.run import write_junit


class ScenarioConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    files: list[str] = msgspec.field(default_factory=lambda: ["scenarios/*.yaml"])
    """Scenario files or globs, relative to the candidate's source (in a release) or the working folder."""
    vars: dict[str, Any] = {}
    """Values for the scenarios' `${name}` (over their own `vars`)."""
    repeat: int = 1
    """Runs of each file; above 1, each step's p95 is a check of its own."""


def _files(config: ScenarioConfig, root: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in config.files:
        path = Path(pattern)
        # Path.glob takes relative patterns only; an absolute one (a file, or a glob) goes to glob.glob.
        matched = sorted(Path(p) for p in glob.glob(pattern)) if path.is_absolute() else sorted(root.glob(pattern))
        found += [m for m in matched if m.is_file() and m not in found]
    return found


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


class ScenarioGate:
    name = "scenario"
    needs = frozenset({"url"})
    Config = ScenarioConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: ScenarioConfig = ctx.config
        root = ctx.source_dir or ctx.home
        files = _files(config, root)
        if not files:
            return unmeasured(f"no scenario file matches {', '.join(config.files)} in {root}")
        try:
            loaded = [load_scenario(f) for f in files]
        except ScenarioError as exc:
            return unmeasured(f"a scenario file cannot be used: {exc}")
        env = {**os.environ, **({"API_KEY": ctx.api_key} if ctx.api_key else {})}
        results: list[ScenarioResult] = []
        for one in loaded:
            for _ in range(max(config.repeat, 1)):
                results.append(await run_loaded(one, ctx.target, dict(config.vars), env))
        junit = ctx.workdir / "scenarios.junit.xml"
        write_junit(results, junit)
        report = ctx.workdir / "scenarios.json"
        report.write_bytes(msgspec.json.format(msgspec.json.encode(results)))
        skipped = [r for r in results if r.skipped]
        if len(skipped) == len(results):
            return unmeasured(f"every scenario was skipped, so nothing was judged: {skipped[0].skipped}")
        steps = [(r, s) for r in results for s in r.steps]
        passed = [s for _, s in steps if s.ok]
        failed = [(r, s) for r, s in steps if not s.ok]
        first_failure = ""
        if failed:
            first, step = failed[0]
            first_failure = f"step `{step.name}` of {Path(first.file).name} failed: {step.reason}"
        checks = [
            Check(name="steps_passed", value=float(len(passed)), unit="steps"),
            Check(
                name="steps_failed",
                value=float(len(failed)),
                unit="steps",
                op="==",
                threshold=0,
                verdict="fail" if failed else "pass",
                note=first_failure,
            ),
        ]
        if skipped:
            names = sorted({f"{Path(r.file).name} ({r.skipped})" for r in skipped})
            checks.append(Check(name="scenarios_skipped", value=float(len(skipped)), note="; ".join(names)))
        if passed:
            slowest = max(passed, key=lambda s: s.ms)
            checks.append(Check(name="slowest_step_ms", value=slowest.ms, unit="ms", note=slowest.name))
        if config.repeat > 1:
            times: dict[str, list[float]] = {}
            for result, step in steps:
                if step.ok:
                    times.setdefault(f"p95_ms:{result.name}/{step.name}", []).append(step.ms)
            checks += [Check(name=name, value=round(_p95(ms), 3), unit="ms") for name, ms in times.items()]
        findings = [
            Finding(
                rule_id="scenario/step-failed",
                severity="high",
                message=f"{step.method} {step.url}: {step.reason}",
                location=f"{Path(result.file).name}: {step.name}",
                verdict="fail",
            )
            for result, step in failed
        ]
        return GateResult(
            verdict="fail" if failed else "pass",
            reason=first_failure,
            checks=checks,
            findings=findings,
            artifacts=[str(junit), str(report)],
        )


@hookimpl
def register_gates(register: Any) -> None:
    register(ScenarioGate)
