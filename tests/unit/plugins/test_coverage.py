"""Reading coverage.py's JSON report: totals, the least-covered files, and the per-file floor."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from reelgate.plugins.coverage import CoverageConfig, judge_report, rcfile, source_folders

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
    text = rcfile(tmp_path, src, [str(installed)]).read_text()
    assert f"source =\n    {installed}\n" in text
    pattern = f"*{tmp_path}/builds/abc?test?/site-packages/reelgate/platform/"  # no brackets in a pattern
    assert f"[paths]\nplatform =\n    {src / 'platform'}/\n    {pattern}\n" in text
    assert "relative_files = True" in text


def test_a_plain_module_keeps_its_name(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    assert asyncio.run(source_folders(sys.executable, ["calc"], tmp_path)) == ["calc"]
