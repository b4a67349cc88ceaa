"""`bandit`: static analysis of the candidate's own Python source with bandit.

Runs `bandit -r` over the candidate's rooms (its source tree in a release) and keeps bandit's JSON as an
artefact. A finding at or above both `severity` and `confidence` fails the gate unless the baseline file
accepts it, with a reason (`test_id`, `file`, optional `line`, `reason`). Every finding is reported with
its file:line, so SARIF points at the line. A run that scanned no code is `error`, never `pass`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Literal

import msgspec

from reelgate.gates.api import (
    Check,
    Finding,
    GateContext,
    GateResult,
    ToolNotFound,
    hookimpl,
    measured,
    run_tool,
    unmeasured,
)
from reelgate.gates.model import Severity, Verdict
from reelgate.gates.yamlfile import FileError, decode, load_yaml, plain

Level = Literal["low", "medium", "high"]
ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
SEVERITY: dict[str, Severity] = {"low": "low", "medium": "medium", "high": "high"}


class Accepted(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    test_id: str
    """bandit's test id, e.g. `B608`."""
    file: str
    """The file, relative to the scanned tree (`platform/repo/videos.py`)."""
    line: int | None = None
    """Only this line; none: every finding of this test in the file."""
    reason: str
    """Why it is accepted: shown beside the finding in every report."""


class Baseline(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    accepted: list[Accepted] = []


class BanditConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    paths: list[str] = msgspec.field(default_factory=lambda: ["platform", "gates", "plugins", "chaos"])
    """What to scan, relative to the candidate's source (in a release) or the working folder."""
    severity: Level = "medium"
    """Findings at or above this severity (and `confidence`) fail the gate."""
    confidence: Level = "medium"
    baseline: str = ""
    """A YAML file of accepted findings, each with its reason (relative like `paths`)."""
    timeout: float = 240


def load_baseline(path: Path) -> list[Accepted]:
    try:
        tree = load_yaml(path.read_text(), str(path))
    except OSError as exc:
        raise FileError(str(path), 1, 1, f"cannot read the baseline: {exc.strerror}") from None
    baseline: Baseline = decode(tree, plain(tree) or {}, Baseline, str(path))
    return baseline.accepted


def _accepted(issue: dict[str, Any], file: str, accepted: list[Accepted]) -> Accepted | None:
    return next(
        (
            a
            for a in accepted
            if a.test_id == issue["test_id"] and a.file == file and a.line in (None, issue["line_number"])
        ),
        None,
    )


def judge(data: dict[str, Any], config: BanditConfig, accepted: list[Accepted]) -> GateResult:
    findings, blocking, waived = [], 0, 0
    for issue in data.get("results", []):
        file = str(Path(issue["filename"]))  # bandit runs in the source root on relative paths
        severity, confidence = issue["issue_severity"].lower(), issue["issue_confidence"].lower()
        over = ORDER[severity] >= ORDER[config.severity] and ORDER[confidence] >= ORDER[config.confidence]
        accept = _accepted(issue, file, accepted)
        message = f"{issue['issue_text']} ({issue['test_name']}, confidence {confidence})"
        verdict: Verdict = "fail" if over and accept is None else "pass"
        if accept is not None:
            message += f"; accepted: {accept.reason}"
            waived += 1
        blocking += verdict == "fail"
        findings.append(
            Finding(
                rule_id=f"bandit/{issue['test_id']}",
                severity=SEVERITY.get(severity, "info"),
                message=message,
                location=f"{file}:{issue['line_number']}",
                help_url=issue.get("more_info", ""),
                verdict=verdict,
            )
        )
    first = next((f for f in findings if f.verdict == "fail"), None)
    totals = data.get("metrics", {}).get("_totals", {})
    lines = float(totals.get("loc", 0))
    checks = [
        Check(name="lines_scanned", value=lines, unit="lines"),
        Check(name="findings", value=float(len(findings)), unit="findings"),
        Check(name="findings_accepted", value=float(waived), unit="findings"),
        Check(
            name="findings_blocking",
            value=float(blocking),
            unit="findings",
            op="==",
            threshold=0,
            verdict="fail" if blocking else "pass",
            note=(
                f"{blocking} at or above severity {config.severity} and confidence {config.confidence}, not "
                f"accepted; the first: {first.rule_id} at {first.location}: {first.message}"
                if first
                else f"none at or above severity {config.severity} and confidence {config.confidence}"
            ),
        ),
    ]
    findings.sort(key=lambda f: (f.verdict != "fail", -ORDER.get(f.severity, 0), f.location))
    return measured(checks=checks, findings=findings)


def bandit_binary() -> str | None:
    beside = Path(sys.executable).parent / "bandit"
    return str(beside) if beside.exists() else shutil.which("bandit")


class BanditGate:
    name = "bandit"
    Config = BanditConfig
    needs = frozenset({"source_tree"})
    """It reads the candidate's source, not its URL."""

    async def run(self, ctx: GateContext) -> GateResult:
        config: BanditConfig = ctx.config
        root = (ctx.source_dir or ctx.home).resolve()
        binary = bandit_binary()
        if binary is None:
            return unmeasured("bandit is not installed (pip install bandit)")
        paths = [p for p in config.paths if (root / p).exists()]
        if not paths:
            return unmeasured(f"none of {', '.join(config.paths)} exists in {root}")
        try:
            accepted = load_baseline(root / config.baseline) if config.baseline else []
        except FileError as exc:
            return unmeasured(f"the baseline cannot be used: {exc}")
        out = ctx.workdir / "bandit.json"
        try:
            run = await run_tool(
                [binary, "-r", *paths, "-f", "json", "-o", str(out), "-q"], cwd=root, kill_after=config.timeout
            )
        except ToolNotFound as exc:
            return unmeasured(str(exc))
        if run.timed_out or not out.exists():
            return unmeasured(f"bandit wrote no report (exit {run.exit_code}): {run.tail()}")
        data = json.loads(out.read_text())
        result = judge(data, config, accepted)
        if not result.checks[0].value:
            return unmeasured(f"bandit scanned no code in {', '.join(paths)}")
        result.gate, result.artifacts = ctx.gate_id, [str(out)]
        return result


@hookimpl
def register_gates(register: Any) -> None:
    register(BanditGate)
