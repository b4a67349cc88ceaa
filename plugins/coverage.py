"""`coverage`: test coverage with coverage.py, and of the changed lines with diff-cover.

Either runs a test command under `coverage run` (the demo runs the unit tests
only, so the gate never runs the suite that runs it) or reads an existing
coverage JSON. The coverage JSON is kept as an artifact; the least-covered
files become findings.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import Check, Finding, GateContext, GateResult, error_result, hookimpl, run_tool


class CoverageConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    command: list[str] = []
    """Test command to run under coverage, e.g. `[-m, pytest, tests/unit, -q]` (arguments to `coverage run`)."""
    coverage_json: str = ""
    """Or: an existing coverage JSON report to read (then nothing is run)."""
    source: list[str] = []
    """`--source` for coverage run; empty uses the project's own [tool.coverage.run]."""
    cwd: str = ""
    """Where to run; defaults to the candidate's source (in a release) or the working folder."""
    python: str = ""
    """Interpreter that runs the tests; defaults to the candidate build's (in a release) or this one."""
    diff_against: str = ""
    """A git ref: also measure coverage of the lines changed since it (diff-cover)."""
    least_covered: int = 5
    """How many of the least-covered files to report as findings."""
    file_floor: float = 0.0
    """Files below this percent are findings of severity `medium`."""


async def _run(args: list[str], cwd: Path, log: Path) -> int:
    """Run one coverage or diff-cover command, its output (stdout and stderr together) into `log`."""
    log.unlink(missing_ok=True)
    return (await run_tool(args, cwd=cwd, log=log, merge_stderr=True)).exit_code


class CoverageGate:
    name = "coverage"
    Config = CoverageConfig
    measures_target = False
    """It measures the candidate's source and tests, not its URL: `baseline: live` is refused."""

    async def run(self, ctx: GateContext) -> GateResult:
        config: CoverageConfig = ctx.config
        cwd = Path(config.cwd) if config.cwd else (ctx.source_dir or ctx.home)
        python = config.python or ctx.python or sys.executable
        report = ctx.workdir / "coverage.json"
        artifacts = [str(report)]
        failed_tests: Check | None = None
        if config.coverage_json:
            given = Path(config.coverage_json)
            if not given.is_absolute():
                given = cwd / given
            if not given.exists():
                return error_result(ctx.gate_id, self.name, f"coverage report {given} does not exist")
            shutil.copyfile(given, report)
        elif config.command:
            data_file = ctx.workdir / ".coverage"
            run = [python, "-m", "coverage", "run", f"--data-file={data_file}", "--branch"]
            if config.source:
                run.append(f"--source={','.join(config.source)}")
            code = await _run([*run, *config.command], cwd, ctx.workdir / "tests.log")
            artifacts.append(str(ctx.workdir / "tests.log"))
            if not data_file.exists() and not list(ctx.workdir.glob(".coverage.*")):
                return GateResult(
                    gate=ctx.gate_id,
                    uses=self.name,
                    verdict="error",
                    artifacts=artifacts,
                    reason=f"the test command wrote no coverage data (exit {code})",
                )
            await _run(
                [python, "-m", "coverage", "combine", f"--data-file={data_file}", str(ctx.workdir)],
                cwd,
                ctx.workdir / "combine.log",
            )
            await _run(
                [python, "-m", "coverage", "json", f"--data-file={data_file}", "-o", str(report)],
                cwd,
                ctx.workdir / "json.log",
            )
            if code != 0:
                failed_tests = Check(
                    name="tests_exit_code",
                    value=float(code),
                    op="==",
                    threshold=0,
                    verdict="fail",
                    note=f"the tests failed (exit {code}); see tests.log",
                )
        else:
            return error_result(ctx.gate_id, self.name, "set `command` or `coverage_json`")
        if not report.exists():
            if failed_tests is not None:  # the answer is already known: the tests fail
                return GateResult(
                    gate=ctx.gate_id,
                    uses=self.name,
                    verdict="fail",
                    artifacts=artifacts,
                    checks=[failed_tests],
                    reason=failed_tests.note,
                )
            return GateResult(
                gate=ctx.gate_id,
                uses=self.name,
                verdict="error",
                artifacts=artifacts,
                reason="coverage produced no JSON report",
            )
        data = json.loads(report.read_text())
        checks, findings = judge_report(data, config)
        if failed_tests is not None:
            checks.insert(0, failed_tests)
        if config.diff_against:
            changed = await _changed_lines(ctx, cwd, python, ctx.workdir / ".coverage", config.diff_against)
            if changed is None:
                return GateResult(
                    gate=ctx.gate_id,
                    uses=self.name,
                    verdict="error",
                    artifacts=artifacts,
                    checks=checks,
                    reason="diff-cover could not measure the changed lines",
                )
            checks.append(changed)
            artifacts.append(str(ctx.workdir / "diff-cover.json"))
        return GateResult(
            gate=ctx.gate_id,
            uses=self.name,
            verdict="pass",
            reason="",
            checks=checks,
            findings=findings,
            artifacts=artifacts,
        )


def judge_report(data: dict[str, Any], config: CoverageConfig) -> tuple[list[Check], list[Finding]]:
    totals = data.get("totals", {})
    statements, covered = totals.get("num_statements", 0), totals.get("covered_lines", 0)
    branches, covered_branches = totals.get("num_branches", 0), totals.get("covered_branches", 0)
    checks = [Check(name="total_percent", value=round(float(totals.get("percent_covered", 0.0)), 2), unit="%")]
    if statements:
        checks.append(Check(name="line_percent", value=round(100.0 * covered / statements, 2), unit="%"))
    if branches:
        checks.append(Check(name="branch_percent", value=round(100.0 * covered_branches / branches, 2), unit="%"))
    files = sorted(
        (
            (name, f["summary"]["percent_covered"])
            for name, f in data.get("files", {}).items()
            if f["summary"].get("num_statements")
        ),
        key=lambda item: item[1],
    )
    if files:
        checks.append(Check(name="min_file_percent", value=round(files[0][1], 2), unit="%", note=files[0][0]))
    findings = [
        Finding(
            rule_id="coverage/least-covered",
            severity="medium" if percent < config.file_floor else "info",
            message=f"{percent:.1f}% covered",
            location=name,
            verdict="warn" if percent < config.file_floor else "pass",
        )
        for name, percent in files[: config.least_covered]
    ]
    return checks, findings


async def _changed_lines(ctx: GateContext, cwd: Path, python: str, data_file: Path, ref: str) -> Check | None:
    xml = ctx.workdir / "coverage.xml"
    await _run(
        [python, "-m", "coverage", "xml", f"--data-file={data_file}", "-o", str(xml)], cwd, ctx.workdir / "xml.log"
    )
    out = ctx.workdir / "diff-cover.json"
    diff_cover = Path(python).parent / "diff-cover"
    if not xml.exists() or not diff_cover.exists():
        return None
    await _run(
        [str(diff_cover), str(xml), f"--compare-branch={ref}", f"--format=json:{out}"],
        cwd,
        ctx.workdir / "diff-cover.log",
    )
    if not out.exists():
        return None
    report = json.loads(out.read_text())
    if not report.get("total_num_lines"):
        return Check(name="changed_lines_percent", value=100.0, unit="%", note="no changed lines to cover")
    return Check(name="changed_lines_percent", value=round(float(report.get("total_percent_covered", 0)), 2), unit="%")


@hookimpl
def register_gates(register: Any) -> None:
    register(CoverageGate)
