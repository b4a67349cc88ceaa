"""`reelgate gate serve`, the first slice of the gate service: a run keyed by (namespace, name, revision) is
made once however many times it is asked for (two requests at once included), runs on without the request that
started it, keeps its verdict, and is judged again only when asked. The service runs as a real process on the
stack's PostgreSQL; the policy's gate reads a coverage report, so the test controls the verdict."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.stack import REELGATE, Stack
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _report(path: Path, percent: float) -> None:
    """A coverage.py JSON report with this total: the verdict the test wants."""
    files = {"platform/app.py": {"summary": {"percent_covered": percent, "num_statements": 10}}}
    path.write_text(json.dumps({"totals": {"percent_covered": percent}, "files": files}))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def service(stack: Stack, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    report = tmp_path / "coverage.json"
    _report(report, 95.0)
    policy = tmp_path / "service.yaml"
    policy.write_text(
        textwrap.dedent(f"""
        name: service
        gates:
          - id: cov
            uses: coverage
            with: {{coverage_json: "{report}"}}
            checks: [{{name: total_percent, op: ">=", threshold: 90}}]
        """)
    )
    port = _free_port()
    process = subprocess.Popen(
        [REELGATE, "gate", "serve", "--policy", str(policy), "--port", str(port)],
        env=stack.env,
        cwd=stack.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/v1/runs/x/y/z", timeout=1).status_code == 404
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "the gate service to answer")
        yield url, report
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_a_run_is_made_once_runs_on_and_keeps_its_verdict(stack: Stack, service: tuple[str, Path]) -> None:
    url, report = service
    ask = {"namespace": "shop", "name": "checkout", "revision": "abc123", "candidate_url": stack.router}
    with ThreadPoolExecutor(2) as pool:  # two controller replicas asking at once
        answers = list(pool.map(lambda _: httpx.post(f"{url}/v1/runs", json=ask, timeout=5), range(2)))
    assert [a.status_code for a in answers] == [202, 202]
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute("SELECT count(*) FROM reelgate_gates.runs WHERE name = 'checkout'").fetchone()
    assert row == (1,)

    def finished() -> dict[str, object] | None:
        answer = httpx.get(f"{url}/v1/runs/shop/checkout/abc123", timeout=5).json()
        return answer if answer["state"] == "finished" else None

    done = wait_for(finished, 60, "the run to finish")
    assert done["verdict"] == "promote" and "all 1 required gates passed" in str(done["reason"])
    checks = done["checks"]
    assert isinstance(checks, list) and "cov.total_percent" in [c["name"] for c in checks]

    _report(report, 10.0)
    again = httpx.post(f"{url}/v1/runs", json=ask, timeout=5).json()
    assert again["state"] == "finished" and again["verdict"] == "promote"  # kept: a retry changes nothing
    rerun = httpx.post(f"{url}/v1/runs", json={**ask, "rerun": True}, timeout=5).json()
    assert rerun["state"] == "running"
    judged = wait_for(finished, 60, "the rerun to finish")
    assert judged["verdict"] == "block" and "`cov` is fail" in str(judged["reason"])


def test_bad_requests_are_refused_with_what_was_wrong(service: tuple[str, Path]) -> None:
    url, _ = service
    unknown = httpx.post(f"{url}/v1/runs", json={"namespace": "a", "name": "b", "revision": "c", "url": "x"}, timeout=5)
    assert unknown.status_code == 400 and "url" in unknown.text
    assert httpx.get(f"{url}/v1/runs/none/such/run", timeout=5).status_code == 404
