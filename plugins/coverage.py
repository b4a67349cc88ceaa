"""`coverage`: test coverage with coverage.py, and of the changed lines with diff-cover.

Either runs a test command under `coverage run` (the demo runs the unit tests
only, so the gate never runs the suite that runs it) or reads an existing
coverage JSON. The coverage JSON is kept as an artifact; the least-covered
files become findings.

Measured from the packages' real folders: `source: [reelgate]` names a
namespace package, and coverage given a package name silently leaves out the
files the tests never import, so each name is resolved to its folders with the
candidate's own interpreter first. The installed files are mapped back to the
repository's paths (`platform/http/auth.py`, not a build folder), so findings read
as the source does and diff-cover can match them to the changed lines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import Check, Finding, GateContext, GateResult, hookimpl, measured, run_tool, unmeasured


class CoverageConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    command: list[str] = []
    """Test command to run under coverage, e.g. `[-m, pytest, tests/unit, -q]` (arguments to `coverage run`)."""
    coverage_json: str = ""
    """Or: an existing coverage JSON report to read (then nothing is run)."""
    source: list[str] = msgspec.field(
        default_factory=lambda: [
            "reelgate.contract",
            "reelgate.platform",
            "reelgate.gates",
            "reelgate.plugins",
            "reelgate.chaos",
        ]
    )
    """What to measure: package names (resolved to the folders the candidate has them in) or folders."""
    cwd: str = ""
    """Where to run; defaults to the candidate's source (in a release) or the working folder."""
    python: str = ""
    """Interpreter that runs the tests; defaults to the candidate build's (in a release) or this one."""
    diff_against: str = ""
    """A git ref, or `live` (the commit the live color runs): also measure the coverage of the lines changed
    since it (diff-cover), as `changed_lines_percent`."""
    least_covered: int = 5
    """How many of the least-covered files to report as findings."""
    file_floor: float = 0.0
    """Files below this percent are findings of severity `medium`."""


# The outer test run's own coverage settings must not leak into the candidate's measured test run.
_LEAKY = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG", "COVERAGE_RCFILE", "REELGATE_ROOT")
_RESOLVE = (
    "import importlib.util, json, os, sys\n"
    "found = {}\n"
    "for name in sys.argv[1:]:\n"
    "    spec = importlib.util.find_spec(name)\n"
    "    places = list(spec.submodule_search_locations or []) if spec else []\n"
    "    folders = [p for p in places if os.path.isdir(p)]\n"
    "    found[name] = folders or ([name] if spec and spec.origin else [])\n"
    "print(json.dumps(found))\n"
)


async def _run(args: list[str], cwd: Path, log: Path) -> int:
    """Run one coverage or diff-cover command, its output (stdout and stderr together) into `log`."""
    log.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    return (await run_tool(args, cwd=cwd, env=env, log=log, merge_stderr=True)).exit_code


async def source_folders(python: str, names: list[str], cwd: Path) -> list[str]:
    """Each package name as the folders it is installed in; a plain module keeps its name (coverage finds its
    file); a folder or file path stays as it is."""
    packages = [n for n in names if "/" not in n and not (cwd / n).exists()]
    folders = [str(cwd / n) for n in names if n not in packages]
    if packages:
        run = await run_tool([python, "-c", _RESOLVE, *packages], cwd=cwd, kill_after=60)
        found = json.loads(run.stdout or b"{}") if run.exit_code == 0 else {}
        missing = [n for n in packages if not found.get(n)]
        if missing:
            raise ValueError(f"{python} cannot find the package(s) {', '.join(missing)}: {run.tail()}")
        folders += [folder for n in packages for folder in found[n]]
    return folders


def rcfile(workdir: Path, cwd: Path, folders: list[str]) -> Path:
    """The gate's own coverage settings: the real folders, and each installed folder mapped back to the
    source's folder of the same name (`.../site-packages/reelgate/platform/` is `platform/`).

    Folders go to `source_dirs`, which coverage takes literally: since coverage 7.18 an entry of `source`
    is a glob pattern, so a folder with `[` in its name matched nothing and no source was measured."""
    path = workdir / "coveragerc"
    dirs = [f for f in folders if Path(f).is_dir()]
    modules = [f for f in folders if f not in dirs]
    lines = ["[run]", "branch = True", "parallel = True", "relative_files = True"]
    lines += ["source_dirs =", *(f"    {folder}" for folder in dirs)] if dirs else []
    lines += ["source_pkgs =", *(f"    {module}" for module in modules)] if modules else []
    mapped = [f for f in dirs if (cwd / Path(f).name).is_dir() and Path(f) != cwd / Path(f).name]
    if mapped:
        lines.append("[paths]")
        for folder in mapped:
            name = Path(folder).name
            # A coverage pattern may not hold `[` or `]` (a build of extras is `<commit>[test]`): `?` stands in.
            pattern = "*" + re.sub(r"[\[\]]", "?", folder)
            lines += [f"{name} =", f"    {cwd / name}/", f"    {pattern}/"]
    path.write_text("\n".join(lines) + "\n")
    return path


class CoverageGate:
    name = "coverage"
    Config = CoverageConfig
    needs = frozenset({"source_tree", "build"})
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
                return unmeasured(f"coverage report {given} does not exist")
            shutil.copyfile(given, report)
        elif config.command:
            data_file = ctx.workdir / ".coverage"
            try:
                folders = await source_folders(python, config.source, cwd)
            except ValueError as exc:
                return unmeasured(str(exc))
            settings = f"--rcfile={rcfile(ctx.workdir, cwd, folders)}"
            run = [python, "-m", "coverage", "run", settings, f"--data-file={data_file}"]
            code = await _run([*run, *config.command], cwd, ctx.workdir / "tests.log")
            artifacts.append(str(ctx.workdir / "tests.log"))
            if not data_file.exists() and not list(ctx.workdir.glob(".coverage.*")):
                return unmeasured(f"the test command wrote no coverage data (exit {code})", artifacts)
            coverage = [python, "-m", "coverage"]
            await _run(
                [*coverage, "combine", settings, f"--data-file={data_file}", str(ctx.workdir)],
                cwd,
                ctx.workdir / "combine.log",
            )
            await _run(
                [*coverage, "json", settings, f"--data-file={data_file}", "-o", str(report)],
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
            return unmeasured("set `command` or `coverage_json`")
        if not report.exists():
            if failed_tests is not None:  # the answer is already known: the tests fail
                return GateResult(
                    verdict="fail",
                    artifacts=artifacts,
                    checks=[failed_tests],
                    reason=failed_tests.note,
                )
            return unmeasured("coverage produced no JSON report", artifacts)
        data = json.loads(report.read_text())
        nothing = await _measured_nothing(data, config, cwd, _diff_ref(config, ctx))
        if nothing:
            return unmeasured(nothing, artifacts)
        checks, findings = judge_report(data, config)
        if failed_tests is not None:
            checks.insert(0, failed_tests)
        if config.diff_against:
            ref = _diff_ref(config, ctx)
            changed = await _changed_lines(ctx, cwd, python, ctx.workdir / ".coverage", ref)
            if changed is None:
                return GateResult(
                    verdict="error",
                    artifacts=artifacts,
                    checks=checks,
                    reason="diff-cover could not measure the changed lines",
                )
            checks.append(changed)
            artifacts.append(str(ctx.workdir / "diff-cover.json"))
        return measured(
            checks=checks,
            findings=findings,
            artifacts=artifacts,
        )


def measured_sources(files: list[str], rooms: list[str]) -> list[str]:
    """The report's files that lie in one of the source rooms: the report's paths are relative to the source
    (`platform/http/auth.py`), and a plain module is its own file (`calc.py`)."""
    return [f for f in files if Path(f).parts and (Path(f).parts[0] in rooms or Path(f).stem in rooms)]


def source_rooms(config: CoverageConfig) -> list[str]:
    """The source rooms as the report names them: `reelgate.platform` is `platform/`, a folder its name."""
    return [Path(name).name if "/" in name else name.rsplit(".", 1)[-1] for name in config.source]


def _diff_ref(config: CoverageConfig, ctx: GateContext) -> str:
    """What the changed lines are measured against: `diff_against`, where `live` is the live color's commit."""
    return (ctx.live_commit or "HEAD") if config.diff_against == "live" else config.diff_against


async def _measured_nothing(data: dict[str, Any], config: CoverageConfig, cwd: Path, ref: str) -> str:
    """Why the report measured nothing of what the gate judges ("" when it did): no source file in it, or a
    changed source file missing from it. Either would pass as 100 % of nothing."""
    files = list(data.get("files", {}))
    if config.coverage_json:
        return "" if files else "the coverage report holds no file: it measured nothing"
    rooms = source_rooms(config)
    sources = measured_sources(files, rooms)
    if not sources:
        elsewhere = f" (only {len(files)} files elsewhere, e.g. {files[0]})" if files else ""
        return (
            f"coverage measured no file of the source ({', '.join(rooms)}){elsewhere}: "
            "the measurement is empty, not covered; see tests.log"
        )
    if not config.diff_against:
        return ""
    changed = await _changed_sources(cwd, ref, rooms)
    missing = [f for f in changed if f not in files]
    if missing:
        return (
            f"{len(missing)} changed source files are not in the coverage report ({', '.join(missing[:3])}): "
            "their lines were not measured"
        )
    return ""


async def _changed_sources(cwd: Path, ref: str, rooms: list[str]) -> list[str]:
    """Python files of the source rooms that differ from `ref` and still exist."""
    run = await run_tool(["git", "diff", "--name-only", ref, "--", *(f"{room}/*.py" for room in rooms)], cwd=cwd)
    if run.exit_code != 0:
        return []
    names = [line.strip() for line in run.stdout.decode().splitlines() if line.strip()]
    return [n for n in names if (cwd / n).is_file()]


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
    settings = ctx.workdir / "coveragerc"
    rc = [f"--rcfile={settings}"] if settings.exists() else []
    await _run(
        [python, "-m", "coverage", "xml", *rc, f"--data-file={data_file}", "-o", str(xml)], cwd, ctx.workdir / "xml.log"
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
        return Check(name="changed_lines_percent", value=100.0, unit="%", note=f"no changed lines since {ref[:12]}")
    percent = round(float(report.get("total_percent_covered", 0)), 2)
    return Check(
        name="changed_lines_percent",
        value=percent,
        unit="%",
        note=f"{report['total_num_lines']} lines changed since {ref[:12]}, {len(report.get('src_stats', {}))} files",
    )


@hookimpl
def register_gates(register: Any) -> None:
    register(CoverageGate)
