"""Scheduling, timeouts, retries and judgement, with small gate types of our own (plugins, not mocks)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from reelgate.gates.api import Check, GateResult
from reelgate.gates.judge import apply_rule, relative_limit
from reelgate.gates.policy import CheckRule, PolicyError, parse_policy
from reelgate.gates.runner import Runner, RunOptions
from tests.unit.gates.sample_gates import TYPES, Sleeper


@pytest.fixture(autouse=True)
def reset() -> None:
    Sleeper.running, Sleeper.peak, Sleeper.calls = 0, 0, {}


def run(text: str, tmp_path: Path, phase: str = "pre") -> tuple[list[GateResult], float]:
    loaded = parse_policy(text, "t.yaml", TYPES)
    started = time.monotonic()
    results = asyncio.run(Runner(loaded, TYPES, RunOptions(target="http://t", workdir=tmp_path)).run(phase))
    return results, time.monotonic() - started


def test_independent_gates_run_in_parallel_and_exclusive_alone(tmp_path: Path) -> None:
    results, took = run(
        """gates:
  - {id: a, uses: sleep}
  - {id: b, uses: sleep}
  - {id: c, uses: sleep}
  - {id: load, uses: sleep, exclusive: true}
""",
        tmp_path,
    )
    assert [r.gate for r in results] == ["a", "b", "c", "load"]
    assert all(r.verdict == "pass" for r in results)
    assert Sleeper.peak == 3  # a, b, c together; `load` never beside them
    assert 0.35 < took < 0.7  # two rounds of 0.2 s, not four


def test_timeout_is_an_error_naming_the_limit(tmp_path: Path) -> None:
    [result], _ = run("gates:\n  - {uses: sleep, timeout: 0.05, with: {seconds: 1}}\n", tmp_path)
    assert result.verdict == "error" and "timeout of 0.05 s" in result.reason


def test_only_errors_are_retried(tmp_path: Path) -> None:
    [flaky], _ = run("gates:\n  - {id: f, uses: sleep, retries: 2, with: {seconds: 0, fail_times: 2}}\n", tmp_path)
    assert flaky.verdict == "pass" and flaky.attempts == 3
    Sleeper.calls = {}
    [failing], _ = run(
        """gates:
  - {id: g, uses: sleep, retries: 3, with: {seconds: 0, value: 900},
     checks: [{name: value, op: "<=", threshold: 10}]}
""",
        tmp_path,
    )
    assert failing.verdict == "fail" and failing.attempts == 1


def test_fail_fast_cancels_the_rest(tmp_path: Path) -> None:
    results, took = run(
        """fail_fast: true
gates:
  - {id: quick-fail, uses: sleep, with: {seconds: 0.01, value: 99}, checks: [{name: value, threshold: 1}]}
  - {id: slow, uses: sleep, with: {seconds: 2}}
  - {id: later, uses: sleep, exclusive: true}
""",
        tmp_path,
    )
    verdicts = {r.gate: r.verdict for r in results}
    assert verdicts == {"quick-fail": "fail", "slow": "skipped", "later": "skipped"}
    assert took < 1


def test_a_crashing_or_empty_gate_is_an_error_never_a_pass(tmp_path: Path) -> None:
    results, _ = run("gates:\n  - {uses: crash}\n  - {uses: empty}\n", tmp_path)
    assert [r.verdict for r in results] == ["error", "error"]
    assert "RuntimeError: plugin bug" in results[0].reason
    assert "missing data never passes" in results[1].reason


def test_checks_are_judged_and_the_reason_names_the_deciding_check(tmp_path: Path) -> None:
    [result], _ = run(
        """gates:
  - uses: sleep
    with: {seconds: 0, value: 14}
    checks:
      - {name: value, op: "<=", threshold: 100}
      - {name: value, op: "<=", baseline: live, max_regression: 20}
      - {name: missing, op: "<=", threshold: 1, severity: warn}
""",
        tmp_path,
    )
    names = [c.name for c in result.checks]
    assert names == ["value", "value vs live", "missing"]
    vs_live = result.checks[1]
    assert (vs_live.baseline, vs_live.delta, vs_live.threshold, vs_live.verdict) == (10.0, 4.0, 12.0, "fail")
    assert result.checks[2].verdict == "error"  # the gate never measured it
    assert result.verdict == "error"
    assert "baseline:value" not in names


def test_apply_rule_directions_and_tolerance() -> None:
    measured = {"rps": Check(name="rps", value=80.0)}
    lower = apply_rule(measured, CheckRule(name="rps", op=">=", baseline="live", max_regression=10), 100.0)
    assert lower.verdict == "fail" and lower.threshold == 90.0
    tolerant = apply_rule(
        {"p": Check(name="p", value=6.0)}, CheckRule(name="p", baseline="live", max_regression=10, tolerance=5), 3.0
    )
    assert tolerant.verdict == "pass"
    assert relative_limit(100, "<=", 10) == pytest.approx(110)
    assert relative_limit(100, ">", 10) == pytest.approx(90)
    warned = apply_rule({"p": Check(name="p", value=6.0)}, CheckRule(name="p", threshold=5, severity="warn"), None)
    assert warned.verdict == "warn"
    no_base = apply_rule(
        {"p": Check(name="p", value=6.0)}, CheckRule(name="p", baseline="live", max_regression=5), None
    )
    assert no_base.verdict == "error" and "no live baseline" in no_base.note


@pytest.mark.parametrize(
    ("stored", "value", "on_missing", "check_verdict", "verdict"),
    [
        (10.0, 14, "warn", "fail", "fail"),
        (10.0, 11, "warn", "pass", "pass"),
        (None, 14, "warn", "warn", "warn"),
        (None, 14, "error", "error", "error"),
        (None, 14, "skip", "skipped", "pass"),
    ],
)
def test_last_promoted_baseline(
    tmp_path: Path, stored: float | None, value: float, on_missing: str, check_verdict: str, verdict: str
) -> None:
    asked: list[tuple[str, str]] = []

    async def last_promoted(gate: str, check: str) -> float | None:
        asked.append((gate, check))
        return stored

    loaded = parse_policy(
        f"""on_missing_baseline: {on_missing}
gates:
  - id: latency
    uses: sleep
    with: {{seconds: 0, value: {value}}}
    checks:
      - {{name: value, op: "<=", baseline: last_promoted, max_regression: 20}}
""",
        "t.yaml",
        TYPES,
    )
    options = RunOptions(target="http://t", workdir=tmp_path, last_promoted=last_promoted)
    [result] = asyncio.run(Runner(loaded, TYPES, options).run("pre"))
    check = result.checks[0]
    assert asked == [("latency", "value")]
    assert check.name == "value vs last_promoted" and check.metric == "value"
    assert (check.verdict, result.verdict) == (check_verdict, verdict)
    if stored is None:  # nothing to compare with is never a pass: the policy says what it is
        assert check.note == "no promoted release to compare with" and check.baseline is None
        assert "no promoted release to compare with" in result.reason
    else:
        assert check.baseline == stored and check.threshold == pytest.approx(12.0)


def live_rule_policy(values: dict[str, float]) -> str:
    listed = ", ".join(f'"{url}": {value}' for url, value in values.items())
    return f"""gates:
  - id: a11y
    uses: by-target
    with: {{values: {{{listed}}}}}
    checks:
      - {{name: violations, op: "<=", baseline: live, max_regression: 0}}
"""


@pytest.mark.parametrize(("candidate", "live", "verdict"), [(3, 3, "pass"), (4, 3, "fail"), (1, 3, "pass")])
def test_baseline_live_runs_any_gate_against_live_in_the_same_run(
    tmp_path: Path, candidate: float, live: float, verdict: str
) -> None:
    """ "No new violations compared with live" is one rule, for a gate that knows nothing of baselines."""
    from tests.unit.gates.sample_gates import ByTarget

    ByTarget.targets = []
    loaded = parse_policy(live_rule_policy({"http://green": candidate, "http://blue": live}), "t.yaml", TYPES)
    options = RunOptions(target="http://green", workdir=tmp_path, baseline_url="http://blue")
    [result] = asyncio.run(Runner(loaded, TYPES, options).run("pre"))
    [check] = result.checks
    assert ByTarget.targets == ["http://green", "http://blue"]
    assert check.name == "violations vs live" and (check.value, check.baseline) == (candidate, live)
    assert check.delta == candidate - live and check.verdict == verdict == result.verdict


def test_baseline_live_without_a_live_measurement_is_an_error(tmp_path: Path) -> None:
    loaded = parse_policy(live_rule_policy({"http://green": 0}), "t.yaml", TYPES)
    for baseline_url in (None, "http://blue"):  # no live URL at all; live does not answer
        options = RunOptions(target="http://green", workdir=tmp_path, baseline_url=baseline_url)
        [result] = asyncio.run(Runner(loaded, TYPES, options).run("pre"))
        assert result.verdict == "error" and result.checks[0].note == "no live baseline was measured"


def test_run_tool_output_timeout_and_missing_tools(tmp_path: Path) -> None:
    from reelgate.contract.answers import AnswerError, Failure, RouterConfig
    from reelgate.gates.api import ToolNotFound, run_tool

    log = tmp_path / "tool.log"
    done = asyncio.run(run_tool(["sh", "-c", "echo out; echo err >&2; exit 3"], log=log))
    assert (done.exit_code, done.stdout, done.stderr, done.timed_out) == (3, b"out\n", b"err\n", False)
    assert done.tail() == "err" and "$ sh -c" in log.read_text()
    said = 'echo starting; echo \'{"live": "green", "files": ["var/live_color"]}\''
    answer = asyncio.run(run_tool(["sh", "-c", said]))
    assert answer.answer(RouterConfig) == RouterConfig(live="green", files=["var/live_color"])
    with pytest.raises(AnswerError, match="expected RouterConfig as JSON, found b'out'"):
        done.answer(RouterConfig)
    failed = asyncio.run(run_tool(["sh", "-c", 'echo \'{"error": "no_such_tenant", "message": "no tenant x"}\'']))
    assert failed.answer(RouterConfig) == Failure(error="no_such_tenant", message="no tenant x")
    unknown = asyncio.run(run_tool(["sh", "-c", 'echo \'{"live": "green", "files": [], "extra": 1}\'']))
    with pytest.raises(AnswerError, match="unknown field `extra`"):  # decoded strictly: no guessing
        unknown.answer(RouterConfig)
    started = time.monotonic()
    slow = asyncio.run(run_tool(["sh", "-c", "sleep 30 & sleep 30"], kill_after=0.3))
    assert slow.timed_out and slow.exit_code == -9 and time.monotonic() - started < 5  # the group, children too
    with pytest.raises(ToolNotFound, match="`no-such-tool-here` is not installed"):
        asyncio.run(run_tool(["no-such-tool-here"]))
    orphan = tmp_path / "orphan"
    orphan.write_text("#!/no/such/python\n")
    orphan.chmod(0o755)
    with pytest.raises(ToolNotFound, match="the interpreter its first line names is missing"):
        asyncio.run(run_tool([str(orphan)]))


def test_when_changed_skips_a_gate_on_purpose_and_that_blocks_nothing(tmp_path: Path) -> None:
    """A gate left out by its `when` is skipped on purpose; when what changed cannot be told, it runs."""
    import subprocess

    from reelgate.gates.decision import decide

    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "docs" / "a.md").write_text("one\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    live = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    (repo / "docs" / "a.md").write_text("two\n")
    subprocess.run([*git, "commit", "-qam", "docs only"], check=True)
    text = """gates:
  - {id: unit, uses: sleep, with: {seconds: 0}}
  - {id: load, uses: sleep, with: {seconds: 0}, when: {changed: ["platform/*"]}}
  - {id: docs, uses: sleep, with: {seconds: 0}, when: {changed: ["*.md"]}}
"""
    loaded = parse_policy(text, "t.yaml", TYPES)
    options = RunOptions(target="http://t", workdir=tmp_path / "w", source_dir=repo, live_commit=live)
    unit, load, docs = asyncio.run(Runner(loaded, TYPES, options).run("pre"))
    assert (unit.verdict, docs.verdict) == ("pass", "pass")
    assert load.verdict == "skipped" and load.skipped_on_purpose
    assert load.reason == f"skipped by its `when`: none of the 1 files changed since {live[:12]} matches platform/*"
    assert decide([unit, load, docs]).outcome == "promote"
    unknown = RunOptions(target="http://t", workdir=tmp_path / "u")  # no source, no live commit
    assert [r.verdict for r in asyncio.run(Runner(loaded, TYPES, unknown).run("pre"))] == ["pass"] * 3


def test_when_env_runs_a_gate_only_when_its_variables_are_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`when: {env: [...]}` leaves a gate out on purpose until its tool's address is configured."""
    from reelgate.gates.decision import decide

    text = """gates:
  - {id: unit, uses: sleep, with: {seconds: 0}}
  - {id: dast, uses: sleep, with: {seconds: 0}, when: {env: [REELGATE_TEST_SCANNER]}}
"""
    loaded = parse_policy(text, "t.yaml", TYPES)
    options = RunOptions(target="http://t", workdir=tmp_path)
    monkeypatch.delenv("REELGATE_TEST_SCANNER", raising=False)
    unit, left_out = asyncio.run(Runner(loaded, TYPES, options).run("pre"))
    assert left_out.verdict == "skipped" and left_out.skipped_on_purpose
    assert left_out.reason == "skipped by its `when`: REELGATE_TEST_SCANNER is not set"
    assert decide([unit, left_out]).outcome == "promote"
    monkeypatch.setenv("REELGATE_TEST_SCANNER", "http://127.0.0.1:8090")
    assert [r.verdict for r in asyncio.run(Runner(loaded, TYPES, options).run("pre"))] == ["pass", "pass"]
    with pytest.raises(PolicyError, match="t.yaml:2:.*expected `changed` or `env` in `when`"):
        parse_policy("gates:\n  - {id: x, uses: sleep, when: {}}\n", "t.yaml", TYPES)


def test_the_color_under_test_reaches_the_gate(tmp_path: Path) -> None:
    """A release passes its candidate's color, so a gate acting on its processes (chaos) knows which."""
    from reelgate.gates.api import GateContext

    seen: list[str | None] = []

    class Recorder:
        name = "recorder"
        Config = Sleeper.Config

        async def run(self, ctx: GateContext) -> GateResult:
            seen.append(ctx.color)
            return GateResult(gate=ctx.gate_id, uses=self.name, verdict="pass", reason="")

    types = {"recorder": Recorder}
    loaded = parse_policy("gates:\n  - {uses: recorder}\n", "t.yaml", types)
    asyncio.run(Runner(loaded, types, RunOptions(target="http://t", workdir=tmp_path, color="green")).run("pre"))
    assert seen == ["green"]


def test_cancelling_a_run_stops_its_gates(tmp_path: Path) -> None:
    """The gate service cancels the run of an expired request: the gates must stop with it, not run on."""
    loaded = parse_policy(
        "gates:\n  - {id: a, uses: sleep, with: {seconds: 1}}\n  - {id: b, uses: sleep}\n", "t", TYPES
    )

    async def cancel_midway() -> None:
        run = asyncio.create_task(Runner(loaded, TYPES, RunOptions(target="http://t", workdir=tmp_path)).run("pre"))
        await asyncio.sleep(0.3)
        assert Sleeper.running == 1  # `b` is done, `a` sleeps
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert Sleeper.running == 0

    asyncio.run(cancel_midway())
