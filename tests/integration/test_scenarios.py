"""QA's scenario files against the real stack: the shipped ones pass, a wrong expectation fails naming its
step and why, secrets never reach the output, and the scenario gate judges a target with them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from reelgate.gates.scenario import load_scenario, run_scenario
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
STEPS = sum(len(load_scenario(p).scenario.steps) for p in SHIPPED)


def test_the_shipped_scenarios_pass_against_the_platform(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("scenario-shipped", "--rate-limit", "0")
    junit = tmp_path / "scenarios.xml"
    run = stack.cli("scenario", "run", *SHIPPED, "--target", stack.router, "--api-key", key, "--junit", str(junit))
    assert run.stdout.count("PASS ") == len(SHIPPED), run.stdout
    assert "play the first 100 bytes of the rendition: GET" in run.stdout and ": 206 in " in run.stdout
    assert key not in run.stdout  # the key only ever travels as ${secret.API_KEY}
    xml = junit.read_text()
    assert xml.count("<testcase ") == STEPS and "<failure" not in xml


def test_a_wrong_expectation_fails_at_its_step_and_says_why(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("scenario-wrong", "--rate-limit", "0")
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        textwrap.dedent("""
        name: a wrong expectation
        defaults: {headers: {Authorization: "Bearer ${secret.API_KEY}"}}
        steps:
          - name: list
            get: /v1/videos?limit=2&echo=${secret.API_KEY}
            expect: {status: 200, json: {$.items: [1, 2, 3]}}
          - name: never reached
            get: /v1/usage
        """)
    )
    run = stack.cli("scenario", "run", str(scenario), "--target", stack.router, "--api-key", key, check=False)
    assert run.returncode == 1
    assert "FAIL a wrong expectation" in run.stdout
    assert "FAIL list: GET " in run.stdout and "$.items: expected [1, 2, 3], found []" in run.stdout
    assert "echo=***" in run.stdout and key not in run.stdout
    assert "(1 later steps not run)" in run.stdout


def test_a_bad_file_is_exit_2_with_its_place(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - get: /a\n    expect: {stauts: 200}\n")
    run = stack.cli("scenario", "run", str(bad), "--target", stack.router, check=False)
    assert run.returncode == 2 and f"{bad}:4:14: unknown field `stauts`" in run.stderr
    assert "Traceback" not in run.stderr


def test_run_scenario_is_a_plain_function(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the chaos experiments' steady state: path and target in, a result out."""
    monkeypatch.setenv("API_KEY", stack.tenant("scenario-function", "--rate-limit", "0"))
    result = run_scenario(ROOT / "scenarios" / "rejected-upload.yaml", stack.router)
    assert result.passed and [s.status for s in result.steps] == [422]


def test_the_scenario_gate_judges_a_target(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("scenario-gate", "--rate-limit", "0")
    out = tmp_path / "gate"
    run = stack.cli(
        "gate",
        "run",
        "scenario",
        "--target",
        stack.router,
        "--api-key",
        key,
        "--set",
        f"files={SHIPPED}",
        "--out",
        str(out),
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((out / "report.json").read_text())["results"][0]
    checks = {c["name"]: c["value"] for c in result["checks"]}
    assert result["verdict"] == "pass" and checks["steps_passed"] == STEPS and checks["steps_failed"] == 0
    assert any(a.endswith("scenarios.junit.xml") for a in result["artifacts"])
    down = stack.cli(
        "gate",
        "run",
        "scenario",
        "--target",
        "http://127.0.0.1:9",
        "--api-key",
        key,
        "--set",
        f"files={SHIPPED}",
        "--out",
        str(tmp_path / "down"),
        check=False,
    )
    failed = json.loads((tmp_path / "down" / "report.json").read_text())["results"][0]
    assert down.returncode == 1 and failed["verdict"] == "fail"
    assert "the request failed: ConnectError" in failed["reason"]
