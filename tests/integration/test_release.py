"""Blue-green releases on the real stack: promote and roll back under load, block a slow candidate,
and recover from a runner killed mid-switch. The candidate is this repository's HEAD, built as a wheel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from reelgate.contract import stack as contract
from reelgate.gates.store import Store
from reelgate.platform.stack import process_info
from reelgate.plugins.haproxy import HAProxyConfig, HAProxyRouter
from reelgate.plugins.local_deployer import LocalDeployer, LocalDeployerConfig
from reelgate.plugins.webhook import SIGNATURE, TIMESTAMP, sign
from tests.candidates import patched_branch
from tests.controllers.argo import run_analysis
from tests.controllers.manifests import argo_metric
from tests.http_server import receiving
from tests.integration.stack import REELGATE, Stack, gate_service, new_gate_token
from tests.integration.videos import upload, wait_final
from tests.load import Load
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
PATCH = ROOT / "scripts" / "demo-patches" / "slow-api.patch"


def write_policy(stack: Stack, name: str, body: str) -> Path:
    path = stack.home / f"{name}.yaml"
    common = f'deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\nscale_down_delay: 1\n'
    path.write_text(common + textwrap.dedent(body))
    return path


@pytest.fixture(scope="module")
def policies(stack: Stack) -> dict[str, Path]:
    return {
        "normal": write_policy(
            stack,
            "normal",
            """
            router: {uses: haproxy}
            gates:
              - id: read
                uses: k6
                exclusive: true
                with: {script: read, vus: 4, duration: 3s, compare_live: true}
                checks:
                  - {name: error_rate, op: "<=", threshold: 0.01}
                  - {name: p95_ms, op: "<=", threshold: 250}
                  - {name: p95_ms, op: "<=", baseline: live, max_regression: 50, tolerance: 50}
              - id: smoke
                uses: k6
                phase: post
                with: {script: read, vus: 2, duration: 2s}
        """,
        ),
        "approval": write_policy(
            stack,
            "approval",
            """
            approval: true
            gates:
              - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}
        """,
        ),
        "strict": write_policy(
            stack,
            "strict",
            """
            gates:
              - id: strict
                uses: k6
                with: {script: read, vus: 1, duration: 1s}
                checks: [{name: p95_ms, op: "<=", threshold: 0.001}]
        """,
        ),
        "bad-after-switch": write_policy(
            stack,
            "bad-after-switch",
            """
            gates:
              - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}
              - id: after
                uses: k6
                phase: post
                with: {script: read, vus: 1, duration: 1s}
                checks: [{name: p95_ms, op: "<=", threshold: 0.001}]
        """,
        ),
        "slow-switch": write_policy(
            stack,
            "slow-switch",
            """
            router: {uses: haproxy, with: {drain: 8}}
            gates:
              - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}
        """,
        ),
    }


@pytest.fixture(scope="module")
def reader(stack: Stack, media_dir: Path) -> tuple[str, str]:
    """A tenant with one ready video, for the load and the read gates."""
    from tests.media import make_clip

    key = stack.tenant("release-reader", "--rate-limit", "0")
    with stack.client(key) as api:
        video = wait_final(api, upload(api, make_clip(media_dir / "release.mp4", seconds=1)).json())
    return key, video["url"]


@pytest.fixture()
def load(stack: Stack, reader: tuple[str, str]) -> Iterator[Load]:
    with Load(f"{stack.router}{reader[1]}", reader[0]) as running:
        yield running


def release(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.cli("release", *args, check=False)


def live_color(stack: Stack) -> str:
    return httpx.get(f"{stack.router}/health/version", timeout=5).json()["color"]


def running(stack: Stack, part: str) -> bool:
    return process_info(stack.settings).get(part, {}).get("statename") == "RUNNING"


def test_promote_then_roll_back_under_load_drops_nothing(
    stack: Stack, policies: dict[str, Path], load: Load, reader: tuple[str, str]
) -> None:
    before = live_color(stack)
    started = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["normal"]))
    assert started.returncode == 0, started.stdout + started.stderr
    assert "PROMOTE" in started.stdout and "promoted" in started.stdout
    after = live_color(stack)
    assert after != before
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert httpx.get(f"{stack.router}/health/version").json()["git_revision"] == head.strip()
    assert not running(stack, f"api-{before}"), "the old color stops after the scale-down delay"
    report = Path(started.stdout.split("report: ")[-1].strip())
    assert report.exists() and "<svg" in report.read_text()
    # This release's measurement is now the `last_promoted` baseline of the next one.
    found = re.search(r"release (r[0-9a-f-]+): promoted", started.stdout)
    assert found, started.stdout
    # The gates' own tenant went with the release's end; its evidence stays in the release's folder.
    gone = stack.cli("tenant", "delete", "--yes", f"gates-{found.group(1)}", check=False)
    assert gone.returncode == 1 and "there is no tenant" in gone.stderr
    store = Store(stack.settings.db_url)
    try:
        [read] = [r for r in store.results(found.group(1)) if r.gate == "read"]
        p95 = next(c.value for c in read.checks if c.name == "p95_ms")
        assert p95 is not None and store.last_promoted_value("read", "p95_ms") == p95
    finally:
        store.close()

    rolled = release(stack, "rollback", "--reason", "test")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert live_color(stack) == before
    assert running(stack, f"api-{before}") and not running(stack, f"api-{after}")
    history = release(stack, "history").stdout
    assert "rolled_back" in history.splitlines()[0]
    load.stop.set()
    load.join()
    assert load.ok > 500
    assert load.failed == 0, f"{load.failed} of {load.ok + load.failed} requests failed during the releases"


@pytest.fixture(scope="module")
def slow_branch() -> Iterator[str]:
    """One branch with the slow patch for the module: its build is made once and reused."""
    with patched_branch(PATCH, "slow") as branch:
        yield branch


def test_slow_candidate_is_blocked_and_live_keeps_serving(
    stack: Stack, policies: dict[str, Path], load: Load, slow_branch: str
) -> None:
    live = live_color(stack)
    blocked = release(stack, "start", "--candidate", slow_branch, "--policy", str(policies["normal"]))
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "BLOCK: required gate `read` is fail" in blocked.stdout
    assert live_color(stack) == live
    candidate = "green" if live == "blue" else "blue"
    assert not running(stack, f"api-{candidate}")
    load.stop.set()
    load.join()
    assert load.failed == 0 and load.ok > 100


@pytest.fixture()
def blackhole() -> Iterator[str]:
    """A URL whose server accepts connections and never answers: a deploy that hangs in `deploying`."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def crash_policy(stack: Stack, state: str, blackhole: str) -> Path:
    """A policy that holds a release in `state` for several seconds."""
    holds = {
        "deploying": f'deployer: {{uses: external, with: {{url: "{blackhole}"}}}}\n'
        "gates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n",
        "gating": "gates:\n  - {id: long, uses: k6, with: {script: read, vus: 1, duration: 20s, rate: 2}}\n",
        "switching": "router: {uses: haproxy, with: {drain: 8}}\n"
        "gates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n",
        "watching": "watch: {duration: 60s, interval: 2s}\n"
        "gates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n",
    }
    if state == "deploying":
        path = stack.home / f"crash-{state}.yaml"
        path.write_text(holds[state])
        return path
    return write_policy(stack, f"crash-{state}", holds[state])


def active_state(stack: Stack) -> str | None:
    with psycopg.connect(stack.settings.db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT state FROM reelgate_gates.releases WHERE state NOT IN ('promoted', 'blocked', 'rolled_back',"
            " 'aborted')"
        ).fetchone()
    return row[0] if row else None


@pytest.mark.parametrize(
    ("state", "ends"),
    [("deploying", "aborted"), ("gating", "aborted"), ("switching", "rolled_back"), ("watching", "rolled_back")],
)
def test_a_runner_killed_in_any_state_is_recovered_by_the_next_command(
    stack: Stack, blackhole: str, state: str, ends: str
) -> None:
    """SIGKILL the runner in `state`; the next command settles the release, and traffic is on the color that
    was live before (the only one that passed its gates in every case) and stays there."""
    live = live_color(stack)
    runner = subprocess.Popen(
        [REELGATE, "release", "start", "--candidate", "HEAD", "--policy", str(crash_policy(stack, state, blackhole))],
        env=stack.env,
        cwd=stack.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: active_state(stack) == state or None, 240, f"the release to reach `{state}`", interval=0.1)
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait()
    status = release(stack, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "recovering" in status.stdout and ends in status.stdout
    assert f"live color: {live}" in status.stdout
    wait_for(lambda: live_color(stack) == live, 10, f"traffic back on {live}")
    candidate = "green" if live == "blue" else "blue"
    if state != "deploying":  # the external deployer's candidate is not reelgate's to stop
        wait_for(lambda: not running(stack, f"api-{candidate}"), 30, f"the candidate {candidate} to be stopped")
    assert active_state(stack) is None


def flat(text: str) -> str:
    """Console output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_a_release_awaiting_approval_holds_the_lock_until_aborted(stack: Stack, policies: dict[str, Path]) -> None:
    live = live_color(stack)
    waiting = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["approval"]))
    assert waiting.returncode == 4, waiting.stdout + waiting.stderr
    assert "awaiting_approval" in waiting.stdout and live_color(stack) == live
    # A second release waits for the first: one release at a time.
    busy = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["approval"]))
    assert busy.returncode == 2 and "one release at a time" in busy.stderr
    aborted = release(stack, "abort", "--reason", "not today")
    assert aborted.returncode == 1 and "aborted" in aborted.stdout
    assert live_color(stack) == live


def test_an_approved_release_switches_and_rolls_back(stack: Stack, policies: dict[str, Path]) -> None:
    live = live_color(stack)
    waiting = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["approval"]))
    assert waiting.returncode == 4
    approved = release(stack, "approve")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert live_color(stack) != live
    found = re.search(r"release (r[0-9a-f-]+)", approved.stdout)
    assert found and "(unverified)" in flat(release(stack, "show", found.group(1)).stdout)  # the CLI's actor
    assert release(stack, "rollback").returncode == 0 and live_color(stack) == live


def test_a_waiver_lets_a_failing_check_through_and_says_so(stack: Stack, policies: dict[str, Path]) -> None:
    blocked = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["strict"]))
    assert blocked.returncode == 1 and "`p95_ms` is fail" in blocked.stdout
    waived = release(
        stack, "waive", "--gate", "strict", "--check", "p95_ms", "--reason", "load test box", "--expires", "10m"
    )
    assert waived.returncode == 0 and "every release" in waived.stdout
    passed = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["strict"]))
    assert passed.returncode == 0, passed.stdout
    assert "strict (k6): passed with waived checks: p95_ms" in flat(passed.stdout)
    shown = release(stack, "show", passed.stdout.split("release ")[-1].split(":")[0])
    assert "load test box" in flat(shown.stdout)  # the waiver's reason, beside the check it waived
    assert release(stack, "rollback").returncode == 0


def test_failing_post_promotion_gate_switches_back(stack: Stack, policies: dict[str, Path], load: Load) -> None:
    live = live_color(stack)
    rolled = release(stack, "start", "--candidate", "HEAD", "--policy", str(policies["bad-after-switch"]))
    assert rolled.returncode == 1, rolled.stdout + rolled.stderr
    assert "post-promotion gate `after` is fail" in rolled.stdout and "rolled_back" in rolled.stdout
    assert live_color(stack) == live
    candidate = "green" if live == "blue" else "blue"
    assert not running(stack, f"api-{candidate}") and running(stack, f"api-{live}")
    load.stop.set()
    load.join()
    assert load.failed == 0


def coverage_report(path: Path, percent: float) -> Path:
    """A coverage.py JSON report with this total, for a gate whose value the test controls."""
    files = {"platform/app.py": {"summary": {"percent_covered": percent, "num_statements": 10}}}
    path.write_text(json.dumps({"totals": {"percent_covered": percent}, "files": files}))
    return path


def test_last_promoted_baseline_is_the_last_release_that_measured_the_check(stack: Stack) -> None:
    """Release A measures 90 and is promoted; release B skips the gate on purpose (its `when` does not hold)
    and is promoted too; release C measures 9. Before the fix the lookup took B, the latest promoted release
    with any row for the gate, found no value, and C passed with "no promoted release to compare with"."""
    report, other = stack.home / "trend-coverage.json", coverage_report(stack.home / "always.json", 80.0)
    policy = write_policy(
        stack,
        "trend",
        f"""
        gates:
          - {{id: always, uses: coverage, with: {{coverage_json: "{other}"}}}}
          - id: coverage-trend
            uses: coverage
            when: {{env: [MEASURE_TREND]}}
            with: {{coverage_json: "{report}"}}
            checks:
              - {{name: total_percent, op: ">=", baseline: last_promoted, max_regression: 10}}
        """,
    )

    def start(measure: bool) -> subprocess.CompletedProcess[str]:
        env = {**stack.env, **({"MEASURE_TREND": "1"} if measure else {})}
        return subprocess.run(
            [REELGATE, "release", "start", "--candidate", "HEAD", "--policy", str(policy)],
            env=env, cwd=stack.home, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    live = live_color(stack)
    coverage_report(report, 90.0)
    first = start(measure=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no promoted release to compare with" in flat(first.stdout)
    assert "WARN coverage-trend" in flat(first.stdout)  # warn by default: never a silent pass

    skipped = start(measure=False)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "coverage-trend" in skipped.stdout and "promoted" in skipped.stdout

    coverage_report(report, 9.0)
    third = start(measure=True)
    assert third.returncode == 1, third.stdout + third.stderr
    assert "9 is more than 10% worse than the last_promoted baseline 90" in flat(third.stdout)
    assert "required gate `coverage-trend` is fail" in flat(third.stdout)
    assert live_color(stack) == live  # two promotions: the color the test began with, as later modules expect


def test_a_whole_release_with_the_external_deployer_gates_with_the_deployments_key(stack: Stack) -> None:
    """The candidate is started "elsewhere" (here, by hand); the deployment supplies its URL, the live URL and
    the gates' key (before the fix the engine made a tenant with the local CLI, whatever the deployer)."""
    live = live_color(stack)
    idle = "green" if live == "blue" else "blue"
    stack.cli("stack", "color", "start", idle)
    key = stack.tenant("external-gates", "--rate-limit", "0")
    path = stack.home / "external.yaml"
    path.write_text(
        textwrap.dedent(f"""
        deployer:
          uses: external
          with: {{url: "{stack.ctx.url(idle)}", live_url: "{stack.ctx.url(live)}", api_key_env: CANDIDATE_KEY}}
        scale_down_delay: 1
        gates:
          - id: read
            uses: k6
            with: {{script: read, vus: 1, duration: 1s}}
            checks:
              - {{name: error_rate, op: "<=", threshold: 0}}
              - {{name: p95_ms, op: "<=", baseline: live, max_regression: 400, tolerance: 100}}
        """)
    )

    missing = release(stack, "start", "--candidate", "v-elsewhere", "--policy", str(path))
    assert missing.returncode == 1 and "`api_key_env` names CANDIDATE_KEY, which is not set" in flat(missing.stdout)

    env = {**stack.env, "CANDIDATE_KEY": key}
    started = subprocess.run(
        [REELGATE, "release", "start", "--candidate", "v-elsewhere", "--policy", str(path)],
        env=env,
        cwd=stack.home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = flat(started.stdout)
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"external candidate {stack.ctx.url(idle)} is ready" in out
    assert "p95_ms vs live" in out and live_color(stack) == idle
    tenants = stack.cli("tenant", "list").stdout
    assert "gates-r" not in tenants  # no tenant was made on the wrong database
    assert release(stack, "rollback").returncode == 0 and live_color(stack) == live


def test_the_watch_switches_back_from_a_candidate_that_turns_bad_after_promotion(
    stack: Stack, load: Load, reader: tuple[str, str]
) -> None:
    """The candidate passes its pre gates (a few requests) and breaks once real traffic reaches it (the patch
    answers 500 after 150 requests): the watch sees the 5xx share of the new color's own traffic and switches
    back, and says how long that took after the failed sample."""
    policy = write_policy(
        stack,
        "watched",
        """
        watch: {duration: 60s, interval: 1s, max_error_ratio: 0.01}
        gates:
          - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s, rate: 5}}
        """,
    )
    live = live_color(stack)
    with patched_branch(ROOT / "scripts" / "demo-patches" / "fail-after-150-requests.patch", "fails-later") as branch:
        rolled = release(stack, "start", "--candidate", branch, "--policy", str(policy))
    out = flat(rolled.stdout)
    assert rolled.returncode == 1, rolled.stdout + rolled.stderr
    assert "traffic is on" in out and "the watch's sample" in out and "requests answered 5xx" in out
    assert live_color(stack) == live
    shown = flat(release(stack, "show", rolled.stdout.split("release ")[-1].split(":")[0]).stdout)
    found = re.search(rf"switched-back traffic is back on {live}, ([0-9.]+) s after", shown)
    assert found is not None and float(found.group(1)) < 10, shown
    # Live keeps serving once traffic is back.
    with Load(f"{stack.router}{reader[1]}", reader[0], rate=50, limit_s=3) as after:
        time.sleep(2)
    assert after.failed == 0 and after.ok > 20


def test_an_argo_rollouts_blue_green_through_the_gate_service(
    stack: Stack, policies: dict[str, Path], reader: tuple[str, str], slow_branch: str, tmp_path: Path
) -> None:
    """What an Argo Rollouts blue-green with reelgate as its prePromotionAnalysis does, step by step: deploy
    the preview (the local deployer plays the Rollout's new ReplicaSet), run the shipped AnalysisTemplate
    through the Argo client against `reelgate gate serve`, then promote (the router switches) on Successful
    or abort (the preview stops) on Failed. HEAD ends promoted and the slow patch aborted, each run with the
    reports the CLI writes for a release."""
    live = live_color(stack)
    preview = contract.other(live)
    deployer = LocalDeployer(LocalDeployerConfig(repo=str(ROOT)), stack.ctx)
    router = HAProxyRouter(HAProxyConfig(), stack.ctx)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    token = new_gate_token(stack, "shop")
    outcomes: dict[str, tuple[str, dict[str, object]]] = {}
    with gate_service(stack, policies["normal"], tmp_path / "service.log", "--secrets", str(secrets)) as url:
        for name, ref in (("head", "HEAD"), ("slow", slow_branch)):
            release_id = f"argo-{name}-{uuid.uuid4().hex[:6]}"
            deployed = asyncio.run(deployer.deploy(release_id, ref, preview, lambda _line: None))
            assert deployed.api_key and deployed.commit
            (secrets / f"{release_id}-key").write_text(deployed.api_key)
            args = {
                "reelgate-url": url,
                "token": token,
                "namespace": "shop",
                "name": "checkout",
                "revision": deployed.commit[:12],
                "candidate-url": deployed.url,
                "live-url": deployed.live_url or "",
                "api-key-secret": f"{release_id}-key",
            }
            analysis, metric = argo_metric(args, scale=0.1)
            result = run_analysis(analysis, metric)
            run = json.loads(result.measurements[-1].value)
            if result.phase == "Successful":  # promote: the active Service now selects the preview
                asyncio.run(router.switch(preview))
                assert live_color(stack) == preview
                served = httpx.get(f"{stack.router}/health/version", timeout=5).json()["git_revision"]
                outcomes[name] = ("promoted", {"run": run, "served": served, "commit": deployed.commit})
                asyncio.run(router.switch(live))  # the other tests' stack: back as it was
            else:  # abort: the preview goes, the active Service never moved
                assert live_color(stack) == live
                outcomes[name] = ("aborted", {"run": run, "phase": result.phase})
            asyncio.run(deployer.stop(preview))
            asyncio.run(deployer.cleanup(release_id))
            report = stack.home / "var" / "runs" / "shop" / "checkout" / deployed.commit[:12] / "reports"
            assert "<svg" in (report / "report.html").read_text() and (report / "report.junit.xml").exists()
    head, slow = outcomes["head"], outcomes["slow"]
    assert head[0] == "promoted" and head[1]["served"] == head[1]["commit"], head
    assert slow[0] == "aborted" and slow[1]["phase"] == "Failed", slow
    reason = str(slow[1]["run"]["reason"])  # type: ignore[index]
    assert "`read` is fail" in reason and "p95" in reason  # readable in Argo's measurement value
    assert live_color(stack) == live and not running(stack, f"api-{preview}")


def test_a_blocked_release_notifies_once_per_event_and_a_failing_notifier_changes_nothing(stack: Stack) -> None:
    """A policy that blocks (a gate of its own: the waiver test's waiver is for `strict`) with two notifiers: a
    signed webhook, and a Slack webhook that refuses (400). The release blocks exactly as without them; the
    webhook hears started, gate_failed and blocked once each, with the failed check's value; the Slack
    failure is on the release's timeline."""
    with receiving() as (seen, url):
        seen.script["/slack"] = [(400, {})] * 3
        policy = write_policy(
            stack,
            "strict-notify",
            f"""
            gates:
              - id: strict-notified
                uses: k6
                with: {{script: read, vus: 1, duration: 1s}}
                checks: [{{name: p95_ms, op: "<=", threshold: 0.001}}]
            notify:
              - {{uses: webhook, name: hook, with: {{url: "{url}/hook", secret_env: REELGATE_TEST_HOOK_SECRET}}}}
              - {{uses: slack, name: team, with: {{url: "{url}/slack"}}, on: [blocked, promoted]}}
            """,
        )
        secret = {"REELGATE_TEST_HOOK_SECRET": "shared"}
        blocked = subprocess.run(
            [REELGATE, "release", "start", "--candidate", "HEAD", "--policy", str(policy)],
            env=stack.env | secret, cwd=stack.home, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert blocked.returncode == 1 and "`p95_ms` is fail" in blocked.stdout, blocked.stdout + blocked.stderr
    hook = [json.loads(body) for _, _, body, _ in seen.on("/hook")]
    assert sorted(e["trigger"] for e in hook) == ["blocked", "gate_failed", "started"]
    assert len({e["event_id"] for e in hook}) == 3
    [failed] = [e for e in hook if e["trigger"] == "blocked"][0]["failed_checks"]
    assert failed["gate"] == "strict-notified" and failed["check"] == "p95_ms" and failed["threshold"] == 0.001
    assert all(sign("shared", h[TIMESTAMP], b) == h[SIGNATURE] for _, h, b, _ in seen.on("/hook"))
    assert len(seen.on("/slack")) == 1  # a 400 is not retried
    release_id = re.search(r"release (r[0-9a-f-]+): blocked", blocked.stdout)
    assert release_id, blocked.stdout
    shown = flat(release(stack, "show", release_id.group(1)).stdout)
    assert "notifying team of blocked failed" in shown and "HTTP 400" in shown
