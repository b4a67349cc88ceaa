"""`reelgate gate run` and `reelgate policy check` against the real stack, with the real k6 and coverage."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.integration.stack import Stack

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def gate_key(stack: Stack) -> str:
    return stack.tenant("gate-cli", "--rate-limit", "0")


def policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_k6_gate_passes_and_fails_on_policy_thresholds(stack: Stack, gate_key: str, tmp_path: Path) -> None:
    file = policy(
        tmp_path,
        """
        gates:
          - id: read
            uses: k6
            with: {script: read, vus: 2, duration: 2s}
            checks:
              - {name: error_rate, op: "<=", threshold: 0}
              - {name: p95_ms, op: "<=", threshold: 2000}
          - id: impossible
            uses: k6
            with: {script: read, vus: 2, duration: 2s}
            checks:
              - {name: p95_ms, op: "<=", threshold: 0.001}
        """,
    )
    ok = stack.cli(
        "gate",
        "run",
        "read",
        "--policy",
        str(file),
        "--target",
        stack.router,
        "--api-key",
        gate_key,
        "--out",
        str(tmp_path / "ok"),
    )
    assert "PASS" in ok.stdout and "p95_ms" in ok.stdout
    report = json.loads((tmp_path / "ok" / "report.json").read_text())
    [result] = report["results"]
    assert result["verdict"] == "pass"
    assert next(c for c in result["checks"] if c["name"] == "requests")["value"] > 10
    assert (tmp_path / "ok" / "read" / "attempt-1" / "k6-summary-target.json").exists()  # the tool's own output
    bad = stack.cli(
        "gate",
        "run",
        "impossible",
        "--policy",
        str(file),
        "--target",
        stack.router,
        "--api-key",
        gate_key,
        "--out",
        str(tmp_path / "bad"),
        check=False,
    )
    assert bad.returncode == 1
    assert "check `p95_ms` is fail" in bad.stdout


def test_k6_upload_script_uploads(stack: Stack, gate_key: str, tmp_path: Path) -> None:
    stack.cli(
        "gate",
        "run",
        "k6",
        "--set",
        "script=upload",
        "--set",
        "vus=1",
        "--set",
        "duration=2s",
        "--target",
        stack.router,
        "--api-key",
        gate_key,
        "--out",
        str(tmp_path / "up"),
    )
    result = json.loads((tmp_path / "up" / "report.json").read_text())["results"][0]
    checks = {c["name"]: c["value"] for c in result["checks"]}
    assert result["verdict"] == "pass" and checks["error_rate"] == 0 and checks["requests"] >= 2
    with stack.client(gate_key) as api:
        titles = [v["title"] for v in api.get("/v1/videos", params={"limit": 100}).json()["items"]]
    assert titles.count("k6 upload") >= checks["requests"]


def test_k6_own_threshold_crossed_is_a_fail_not_a_pass(stack: Stack, gate_key: str, tmp_path: Path) -> None:
    """k6 exits 99; handleSummary's `ok: false` marks the crossed threshold (not --summary-export's inverted flag)."""
    file = policy(
        tmp_path,
        """
        gates:
          - id: k6-thresholds
            uses: k6
            with: {script: read, vus: 1, duration: 1s, thresholds: {http_req_duration: ["p(95)<0.001"]}}
        """,
    )
    run = stack.cli(
        "gate",
        "run",
        "k6-thresholds",
        "--policy",
        str(file),
        "--target",
        stack.router,
        "--api-key",
        gate_key,
        "--out",
        str(tmp_path / "t"),
        check=False,
    )
    assert run.returncode == 1
    result = json.loads((tmp_path / "t" / "report.json").read_text())["results"][0]
    crossed = [c for c in result["checks"] if c["name"] == "k6:http_req_duration:p(95)<0.001"]
    assert crossed and crossed[0]["verdict"] == "fail"


def test_unreachable_target_is_an_error(stack: Stack, gate_key: str, tmp_path: Path) -> None:
    run = stack.cli(
        "gate",
        "run",
        "k6",
        "--set",
        "vus=1",
        "--set",
        "duration=1s",
        "--target",
        "http://127.0.0.1:9",
        "--api-key",
        gate_key,
        "--out",
        str(tmp_path / "u"),
        check=False,
    )
    assert run.returncode == 1
    result = json.loads((tmp_path / "u" / "report.json").read_text())["results"][0]
    assert result["verdict"] == "error"
    assert "every request to http://127.0.0.1:9 failed" in result["reason"]


def test_coverage_gate_on_a_small_project(stack: Stack, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef unused(x):\n    return x * 2\n")
    (project / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    (project / "calc.py").write_text((project / "calc.py").read_text() + "\n\ndef more(y):\n    return y - 1\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    file = policy(
        tmp_path,
        f"""
        gates:
          - id: cov
            uses: coverage
            with: {{command: [-m, pytest, -q, -p, no:cacheprovider, test_calc.py], source: [calc],
                    cwd: "{project}", diff_against: "HEAD~1"}}
            checks:
              - {{name: total_percent, op: ">=", threshold: 50}}
              - {{name: changed_lines_percent, op: ">=", threshold: 100}}
        """,
    )
    run = stack.cli(
        "gate", "run", "cov", "--policy", str(file), "--target", stack.router, "--out", str(tmp_path / "c"), check=False
    )
    result = json.loads((tmp_path / "c" / "report.json").read_text())["results"][0]
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["total_percent"]["value"] == pytest.approx(66.67, abs=0.01)  # 4 of 6 statements
    assert checks["total_percent"]["verdict"] == "pass"
    # The new function's `def` ran at import; its body never did.
    assert checks["changed_lines_percent"]["value"] == 50.0 and checks["changed_lines_percent"]["verdict"] == "fail"
    assert run.returncode == 1
    assert any(f["location"].endswith("calc.py") for f in result["findings"])
    (project / "test_calc.py").write_text("def test_broken():\n    assert False\n")
    broken = stack.cli(
        "gate", "run", "cov", "--policy", str(file), "--target", stack.router, "--out", str(tmp_path / "b"), check=False
    )
    assert broken.returncode == 1 and "the tests failed" in broken.stdout


def test_policy_check_errors_say_where(stack: Stack, tmp_path: Path) -> None:
    file = policy(
        tmp_path,
        """
        gates:
          - uses: k6
            with:
              vus: many
        """,
    )
    run = stack.cli("policy", "check", str(file), check=False)
    assert run.returncode == 2
    assert f"{file}:5:7: expected `int`, got `str`" in run.stderr
    assert "Traceback" not in run.stderr
    assert stack.cli("policy", "schema").stdout.startswith("{")
