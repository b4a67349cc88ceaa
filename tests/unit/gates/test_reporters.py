"""Every reporter writes a file its consumers can read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from junitparser import JUnitXml

from reelgate.gates.manager import registry
from reelgate.gates.model import Check, Decision, Event, Finding, GateResult
from reelgate.gates.reports import write_reports

RESULTS = [
    GateResult(
        gate="load",
        uses="k6",
        verdict="fail",
        reason="check `p95_ms` is fail",
        duration_s=12.5,
        checks=[
            Check(name="p95_ms", value=320.0, unit="ms", op="<=", threshold=250, verdict="fail"),
            Check(name="p50_ms", value=120.0, unit="ms"),
            Check(name="p99_ms", value=400.0, unit="ms", baseline=9.0),
        ],
        artifacts=["/x/k6-summary.json"],
    ),
    GateResult(
        gate="scan",
        uses="zap",
        verdict="warn",
        reason="1 finding",
        required=False,
        findings=[
            Finding(
                rule_id="10038",
                severity="medium",
                message="CSP header not set <script>",
                location="http://t/",
                help_url="https://example.org/10038",
            )
        ],
    ),
    GateResult(gate="later", uses="k6", verdict="skipped", reason="fail_fast", phase="post"),
]


def write(tmp_path: Path) -> dict[str, Path]:
    timeline = [Event(at=datetime(2026, 1, 1, tzinfo=UTC), kind="planned", message="go", actor="ana")]
    paths = write_reports(
        "r1",
        "v2",
        "default",
        "blocked",
        Decision(outcome="block", reason="required gate `load` is fail", deciding_gate="load"),
        RESULTS,
        timeline,
        tmp_path,
        registry().reporters,
    )
    return {p.name: p for p in paths}


def test_json_round_trips(tmp_path: Path) -> None:
    data = json.loads(write(tmp_path)["report.json"].read_text())
    assert data["decision"]["deciding_gate"] == "load"
    assert [r["verdict"] for r in data["results"]] == ["fail", "warn", "skipped"]


def test_junit_has_a_case_per_gate_and_per_check(tmp_path: Path) -> None:
    xml = JUnitXml.fromfile(str(write(tmp_path)["report.junit.xml"]))
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == {"load", "load.p95_ms", "load.p50_ms", "load.p99_ms", "scan", "later"}
    assert cases["load"].result[0].__class__.__name__ == "Failure"
    assert cases["load.p95_ms"].result and not cases["load.p50_ms"].result
    assert cases["later"].result[0].__class__.__name__ == "Skipped"


def test_sarif_holds_the_findings(tmp_path: Path) -> None:
    sarif = json.loads(write(tmp_path)["report.sarif"].read_text())
    assert sarif["version"] == "2.1.0"
    [finding] = [r for run in sarif["runs"] for r in run["results"]]
    assert finding["ruleId"] == "10038" and finding["level"] == "warning"
    assert finding["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "http://t/"


def test_markdown_and_html(tmp_path: Path) -> None:
    files = write(tmp_path)
    markdown = files["report.md"].read_text()
    assert "**BLOCK**" in markdown and "| ❌ p95_ms | 320 ms | <= 250 |" in markdown
    page = files["report.html"].read_text()
    assert page.startswith("<!doctype html><html lang='en'>")
    assert '<svg role="img"' in page and "Latency of load" in page
    assert "&lt;script&gt;" in page and "<script>" not in page  # escaped
    # Self-contained: no stylesheet, script or image from elsewhere.
    assert not re.search(r"<(link|script|img)[^>]+(href|src)=", page)


def test_html_timeline_chart_baselines_and_relative_artifacts(tmp_path: Path) -> None:
    from datetime import timedelta

    from reelgate.gates.model import Report
    from reelgate.plugins.html_report import HtmlReporter

    start = datetime(2026, 1, 1, tzinfo=UTC)
    at = [start + timedelta(seconds=s) for s in range(40)]
    folder = tmp_path / "r1"
    artifact = folder / "gates" / "pre" / "read" / "attempt-1" / "k6.log"
    report = Report(
        release_id="r1",
        candidate="HEAD",
        policy="p",
        state="rolled_back",
        decision=Decision(outcome="block", reason="the watch failed"),
        timeline=[
            Event(at=at[0], kind="deploying", message="deploying HEAD"),
            Event(at=at[20], kind="switching", message="to green"),
            Event(at=at[21], kind="watching", message="watching green"),
            Event(at=at[30], kind="switched-back", message="traffic is back on blue, 0.40 s after"),
        ],
        results=[
            GateResult(
                gate="read",
                uses="k6",
                verdict="pass",
                reason="ok",
                started_at=at[5],
                duration_s=8,
                artifacts=[str(artifact)],
                checks=[Check(name="p95_ms vs live", value=12.0, unit="ms", baseline=10.0, delta=2.0)],
            ),
            GateResult(gate="smoke", uses="k6", verdict="fail", reason="x", started_at=at[22], duration_s=3),
        ],
    )
    (folder / "reports").mkdir(parents=True)
    page_path = folder / "reports" / "report.html"
    HtmlReporter().write(report, page_path)
    page = page_path.read_text()
    chart = page.split('aria-labelledby="timeline-title"')[1].split("</svg>")[0]
    # Both gates as bars, placed on one 30 s axis: read starts at 5/30 of the width, smoke at 22/30.
    assert "<title>read: pass, 8.0 s</title>" in chart and "<title>smoke: fail, 3.0 s</title>" in chart
    bars = re.findall(r'<rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', chart)
    expected = [(170 + 620 * 5 / 30, 620 * 8 / 30), (170 + 620 * 22 / 30, 620 * 3 / 30)]
    assert [(float(x), float(w)) for x, w in bars] == [(round(x, 1), round(w, 1)) for x, w in expected]
    for kind in ("deploying", "switching", "watching", "switched-back"):
        assert f">{kind}</text>" in chart
    assert "<h2>Candidate against baseline</h2>" in page and "<td class='num'>+2</td>" in page
    assert "href='../gates/pre/read/attempt-1/k6.log'" in page


def test_html_latency_over_time_for_both_colors(tmp_path: Path) -> None:
    from reelgate.gates.model import Report, Series
    from reelgate.plugins.html_report import HtmlReporter

    result = GateResult(
        gate="read",
        uses="k6",
        verdict="pass",
        reason="ok",
        series=[
            Series(name="p95_ms", label="live", unit="ms", points=[(0, 10.0), (1, 20.0), (2, 10.0)]),
            Series(name="p95_ms", label="candidate", unit="ms", points=[(0, 40.0), (2, 20.0)]),
        ],
    )
    report = Report(release_id="r1", candidate="HEAD", policy="p", state="promoted", decision=None, results=[result])
    HtmlReporter().write(report, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    chart = page.split('aria-labelledby="s-read"')[1].split("</svg>")[0]
    assert "p95_ms over time, live and candidate (ms)" in chart
    lines = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="([^"]+)"', chart)
    # x: 60 + 560 * t / 2 s; y: 10 + 180 - 180 * v / 40 ms
    assert lines == [("60.0,145.0 340.0,100.0 620.0,145.0", "#6a8caf"), ("60.0,10.0 620.0,100.0", "#1f4e79")]
