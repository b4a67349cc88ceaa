"""Reading coverage.py's JSON report: totals, the least-covered files, and the per-file floor."""

from __future__ import annotations

from reelgate.plugins.coverage import CoverageConfig, judge_report

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
