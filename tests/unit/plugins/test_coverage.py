"""Reading coverage.py's JSON report: totals, the least-covered files, and the per-file floor."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import msgspec
import pytest

from reelgate.gates.api import GateContext, GateResult
from reelgate.plugins.coverage import CoverageConfig, CoverageGate, judge_report, rcfile, source_folders

REPORT = {
    "totals": {
        "percent_covered": 81.234,
        "num_statements": 200,
        "covered_lines": 170,
        "num_branches": 40,
        "covered_branches": 25,
    },
    "files": {
        "gates/judge.py": {"summary": {"percent_covered": 97.0, "num_statements": 60}},
        "gates/release.py": {"summary": {"percent_covered": 55.5, "num_statements": 120}},
        "gates/empty.py": {"summary": {"percent_covered": 0.0, "num_statements": 0}},
        "plugins/k6.py": {"summary": {"percent_covered": 70.0, "num_statements": 20}},
    },
}


def test_totals_lines_and_branches() -> None:
    checks, _ = judge_report(REPORT, CoverageConfig())
    found = {c.name: c.value for c in checks}
    assert found["total_percent"] == 81.23
    assert found["line_percent"] == 85.0
    assert found["branch_percent"] == 62.5
    least = next(c for c in checks if c.name == "min_file_percent")
    assert (least.value, least.note) == (55.5, "gates/release.py")  # a file with no statements is not counted


def test_least_covered_files_are_findings_and_the_floor_warns() -> None:
    _, findings = judge_report(REPORT, CoverageConfig(least_covered=2, file_floor=60))
    assert [(f.location, f.severity, f.verdict) for f in findings] == [
        ("gates/release.py", "medium", "warn"),
        ("plugins/k6.py", "info", "pass"),
    ]


def test_packages_are_measured_from_their_real_folders(tmp_path: Path) -> None:
    """`reelgate.*` has no top-level __init__: given by name, coverage would drop never-imported files."""
    folders = asyncio.run(source_folders(sys.executable, ["reelgate.gates", "reelgate.plugins"], tmp_path))
    assert [Path(f).name for f in folders] == ["gates", "plugins"] and all(Path(f).is_dir() for f in folders)
    with pytest.raises(ValueError, match="cannot find the package"):
        asyncio.run(source_folders(sys.executable, ["reelgate.no_such_room"], tmp_path))


def test_installed_folders_map_back_to_the_source_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "platform").mkdir(parents=True)
    installed = tmp_path / "builds" / "abc[test]" / "site-packages" / "reelgate" / "platform"
    installed.mkdir(parents=True)
    text = rcfile(tmp_path, src, [str(installed), "calc"]).read_text()
    # Folders are `source_dirs`, taken literally: as a `source` entry, coverage 7.18 reads `[test]` as a glob.
    assert f"source_dirs =\n    {installed}\n" in text and "source_pkgs =\n    calc\n" in text
    assert "\nsource =" not in text
    pattern = f"*{tmp_path}/builds/abc?test?/site-packages/reelgate/platform/"  # no brackets in a pattern
    assert f"[paths]\nplatform =\n    {src / 'platform'}/\n    {pattern}\n" in text
    assert "relative_files = True" in text


def test_a_plain_module_keeps_its_name(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    assert asyncio.run(source_folders(sys.executable, ["calc"], tmp_path)) == ["calc"]


def _project(tmp_path: Path) -> tuple[Path, Path]:
    """A git checkout with a room `calcs/` and its test, and that room installed in a build folder whose
    name holds `[test]`, as the local deployer named builds with extras."""
    import subprocess

    src = tmp_path / "src"
    (src / "calcs").mkdir(parents=True)
    (src / "tests").mkdir()
    (src / "calcs" / "__init__.py").write_text("")
    (src / "calcs" / "add.py").write_text("def add(a, b):\n    return a + b\n")
    (src / "tests" / "test_add.py").write_text(
        "from calcs.add import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "one"], check=True)
    site = tmp_path / "builds" / "abc[test]" / "site-packages"
    site.mkdir(parents=True)
    shutil.copytree(src / "calcs", site / "calcs")
    return src, site


def _gate(tmp_path: Path, src: Path, site: Path, **config: object) -> GateResult:
    settings = {"command": ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], "source": ["calcs"], **config}
    ctx = GateContext(
        gate_id="unit-tests",
        target="",
        config=msgspec.convert(settings, CoverageConfig),
        workdir=tmp_path / "work",
        source_dir=src,
        home=src,
    )
    ctx.workdir.mkdir(exist_ok=True)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(site)  # the tests import the installed copy, as a build's tests do
    try:
        return asyncio.run(CoverageGate().run(ctx))
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.update(PYTHONPATH=old)


def test_a_build_folder_with_brackets_is_measured(tmp_path: Path) -> None:
    """Before the fix, coverage 7.18 read the folder as a glob (`[test]` a character class), measured only the
    tests, and the gate passed on them."""
    src, site = _project(tmp_path)
    result = _gate(tmp_path, src, site)
    assert result.verdict == "pass", result.reason
    files = json.loads((tmp_path / "work" / "coverage.json").read_text())["files"]
    assert "calcs/add.py" in files and not [f for f in files if f.startswith("tests/")]


def test_a_gate_that_measured_no_source_is_an_error(tmp_path: Path) -> None:
    """The source tree has no `calcs/` to map the installed files back to: the report holds only paths
    diff-cover can never match to a change, which would read as "no changed line uncovered"."""
    src, site = _project(tmp_path)
    shutil.rmtree(src / "calcs")
    result = _gate(tmp_path, src, site, source=[str(site / "calcs")])
    assert result.verdict == "error"
    assert result.reason.startswith("coverage measured no file of the source (calcs) (only 2 files elsewhere")


def test_a_changed_source_file_missing_from_the_report_is_an_error(tmp_path: Path) -> None:
    """coverage looks for never-imported files only in packages: a change in a folder without `__init__.py`
    has no coverage at all, and diff-cover would count its lines as nothing to judge."""
    import subprocess

    src, site = _project(tmp_path)
    (src / "calcs" / "more").mkdir()
    (src / "calcs" / "more" / "sub.py").write_text("def sub(a, b):\n    return a - b\n")
    shutil.copytree(src / "calcs" / "more", site / "calcs" / "more")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(src)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    result = _gate(tmp_path, src, site, diff_against="HEAD~1")
    assert result.verdict == "error"
    assert "1 changed source files are not in the coverage report (calcs/more/sub.py)" in result.reason


def test_an_empty_coverage_report_is_an_error(tmp_path: Path) -> None:
    report = tmp_path / "given.json"
    report.write_text(json.dumps({"totals": {"percent_covered": 100.0}, "files": {}}))
    result = _gate(tmp_path, tmp_path, tmp_path, coverage_json=str(report), command=[])
    assert result.verdict == "error" and "holds no file" in result.reason
