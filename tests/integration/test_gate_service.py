"""`reelgate gate serve` as Argo Rollouts, Flagger and Kargo call it: the clients in `tests/controllers` do what
each controller does, from the manifests in `deploy/`, against the real service process on the stack's
PostgreSQL. The policy's one gate is a scenario that polls the candidate until it says `good` or `bad`, so a
test holds a run `running` as long as it needs and then chooses its verdict."""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import pytest

from tests.candidates import patched_branch
from tests.controllers.argo import measure, run_analysis
from tests.controllers.flagger import call_webhook, payload
from tests.controllers.kargo import HttpStep, run_step
from tests.controllers.manifests import argo_metric, flagger_hooks, kargo_step
from tests.http_server import Candidate, serving_candidate
from tests.integration.stack import REELGATE, Stack, gate_service, new_gate_token
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

EXPIRE_AFTER = 4
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def candidate() -> Iterator[tuple[Candidate, str]]:
    held = Candidate()
    with serving_candidate(held) as url:
        yield held, url
        held.set("good")  # a run still held ends before the candidate goes


class Service:
    def __init__(self, url: str, stack: Stack, log: Path) -> None:
        self.url, self.stack, self.log = url, stack, log

    def token(self, *namespaces: str) -> str:
        return new_gate_token(self.stack, *namespaces)

    def run_quietly(self, revision: str) -> dict[str, Any]:
        """The run's row, read from PostgreSQL: asking the service would count as a poll."""
        with psycopg.connect(self.stack.settings.db_url) as conn:
            row = conn.execute(
                "SELECT state, verdict, reason FROM reelgate_gates.runs WHERE revision = %s", (revision,)
            ).fetchone()
        assert row is not None
        return {"state": row[0], "verdict": row[1], "reason": row[2]}

    def finished(self, revision: str, token: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.run(revision, token)
            return run if run["state"] == "finished" else None

        return wait_for(done, 30, f"the run of {revision} to finish")

    def run(self, revision: str, token: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/v1/runs/shop/checkout/{revision}", headers=_auth(token), timeout=5)
        assert answer.status_code == 200, answer.text
        run: dict[str, Any] = answer.json()["run"]
        return run


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def service(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("gate-service")
    (folder / "judge.yaml").write_text(
        textwrap.dedent("""
        version: 1
        name: the candidate's word
        defaults: {headers: {X-Key: "${secret.API_KEY}"}}
        steps:
          - name: wait for the candidate to say good or bad
            get: /state
            poll: {until: {$.state: good}, fail_if: {$.state: bad}, interval: 0.2, timeout: 120}
        """)
    )
    (folder / "policy.yaml").write_text(
        textwrap.dedent(f"""
        name: service
        gates:
          - id: judge
            uses: scenario
            with: {{files: ["{folder / "judge.yaml"}"]}}
        """)
    )
    (folder / "secrets").mkdir()
    (folder / "secrets" / "checkout-key").write_text("rg_candidate_key\n")
    options = ["--expire-after", str(EXPIRE_AFTER), "--max-runs", "2", "--secrets", str(folder / "secrets")]
    log = folder / "service.log"
    with gate_service(stack, folder / "policy.yaml", log, *options, env={"API_KEY": "no-secret-named"}) as url:
        yield Service(url, stack, log)


def _revision() -> str:
    return uuid.uuid4().hex[:12]


def _args(service: Service, token: str, revision: str, candidate_url: str) -> dict[str, str]:
    return {
        "reelgate-url": service.url,
        "token": token,
        "namespace": "shop",
        "name": "checkout",
        "revision": revision,
        "candidate-url": candidate_url,
    }


def _later(seconds: float, action: Any) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_argo_analysis_ends_successful_for_a_good_candidate_and_failed_for_a_bad_one(
    service: Service, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    analysis, metric = argo_metric(_args(service, token, _revision(), url), scale=0.05)
    _later(1.5, lambda: held.set("good"))
    passed = run_analysis(analysis, metric)
    assert passed.phase == "Successful", passed
    phases = [m.phase for m in passed.measurements]
    assert phases[-1] == "Successful" and "Inconclusive" in phases and "Error" not in phases  # running: neither

    held.set("wait")
    analysis, metric = argo_metric(_args(service, token, _revision(), url), scale=0.05)
    _later(1.0, lambda: held.set("bad"))
    failed = run_analysis(analysis, metric)
    assert failed.phase == "Failed", failed
    value = json.loads(failed.measurements[-1].value)  # what `kubectl argo rollouts get` shows
    assert value["verdict"] == "block" and "`judge` is fail" in value["reason"]


def test_a_run_is_made_once_kept_and_judged_again_only_when_asked(
    service: Service, stack: Stack, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    revision = _revision()
    ask = {"namespace": "shop", "name": "checkout", "revision": revision, "candidate_url": url}

    def send(method: str) -> httpx.Response:
        return httpx.request(method, f"{service.url}/v1/runs", json=ask, headers=_auth(token), timeout=5)

    with ThreadPoolExecutor(3) as pool:  # two controller replicas and a retried PUT, at once
        answers = list(pool.map(send, ["POST", "POST", "PUT"]))
    assert [a.status_code for a in answers] == [200, 200, 200]
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute("SELECT count(*) FROM reelgate_gates.runs WHERE revision = %s", (revision,)).fetchone()
    assert row == (1,)
    held.set("good")
    done = service.finished(revision, token)
    assert done["verdict"] == "promote" and done["report"].endswith("/report")
    report = httpx.get(f"{service.url}{done['report']}", headers=_auth(token), timeout=5)
    assert report.status_code == 200 and "checkout" in report.text

    held.set("bad")
    kept = send("POST").json()["run"]
    assert kept["state"] == "finished" and kept["verdict"] == "promote"  # a retry changes nothing
    rerun = httpx.post(f"{service.url}/v1/runs", json=ask | {"rerun": True}, headers=_auth(token), timeout=5)
    assert rerun.json()["run"]["state"] == "running"
    judged = service.finished(revision, token)
    assert judged["verdict"] == "block"


def test_a_busy_service_is_an_error_for_the_controllers_not_a_verdict(
    service: Service, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    started = []
    for _ in range(2):  # --max-runs 2: both held running by the candidate
        _, metric = argo_metric(_args(service, token, (revision := _revision()), url))
        assert measure(metric).phase == "Inconclusive"
        started.append(revision)
    _, metric = argo_metric(_args(service, token, _revision(), url))
    busy = measure(metric)
    assert busy.phase == "Error" and "503" in busy.message
    hooks = flagger_hooks()
    hook = hooks["rollout"]
    failure = call_webhook(
        service.url + "/v1/flagger/rollout",
        payload("checkout", "shop", _revision(), {**hook["metadata"], "token": token, "candidate_url": url}),
        retries=hook["retries"],
    )
    assert failure == f"POST {service.url}/v1/flagger/rollout giving up after 3 attempt(s)"  # its body is lost
    held.set("good")
    for revision in started:
        service.finished(revision, token)


def test_a_run_nobody_polls_expires_without_a_verdict_and_stays_readable(
    service: Service, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    revision = _revision()
    analysis, metric = argo_metric(_args(service, token, revision, url))
    assert measure(metric).phase == "Inconclusive"  # started, then nobody asks again
    expired = wait_for(lambda: (r := service.run_quietly(revision))["state"] == "expired" and r, 20, "expiry")
    assert expired["verdict"] is None and "nobody asked about it" in expired["reason"]
    time.sleep(1.0)  # the sweeper stops the gate right after marking the run; a request may be in flight
    asked = held.asked
    held.set("good")
    time.sleep(1.5)  # seven polls of the scenario, had its gate gone on
    again = measure(metric)
    assert again.phase == "Error" and "410" in again.message  # no verdict: an Error, never a pass
    assert service.run(revision, token)["state"] == "expired"
    assert held.asked == asked  # its gate was stopped: nothing asks the candidate any more
    metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
    assert 'reelgate_gate_verdicts_total{source="argo",verdict="expired"}' in metrics


def test_flagger_hooks_answer_with_status_codes_as_flagger_reads_them(
    service: Service, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    hooks = flagger_hooks()

    def call(
        kind: str, checksum: str, metadata: dict[str, str] | None = None, phase: str = "Progressing"
    ) -> str | None:
        hook = hooks[kind]
        meta = {**hook["metadata"], "token": token, "candidate_url": url} if metadata is None else metadata
        path = hook["url"].split(":8390", 1)[1]
        return call_webhook(
            service.url + path, payload("checkout", "shop", checksum, meta, phase), hook.get("retries", 0)
        )

    checksum, previous = _revision(), _revision()
    no_metadata = call_webhook(service.url + "/v1/flagger/pre-rollout", payload("checkout", "shop", checksum, None))
    assert no_metadata is not None and "no metadata" in no_metadata
    assert "token" in (call("pre-rollout", checksum, {"candidate_url": url}) or "")
    assert call("confirm-rollout", previous) is None  # the previous revision's checksum: not a run key
    assert call("rollback", checksum) is not None  # an unknown run never signals a rollback
    assert call("pre-rollout", checksum) is None  # starts the run; passes while it runs
    assert "hold" in (call("confirm-traffic-increase", checksum) or "")
    assert call("rollout", checksum) is None
    held.set("good")
    wait_for(lambda: call("confirm-promotion", checksum) is None, 30, "confirm-promotion to pass")
    assert call("rollback", checksum) is not None  # promoted: no rollback
    assert call("post-rollout", checksum, phase="Succeeded") is None

    held.set("bad")
    bad = _revision()
    assert call("pre-rollout", bad) is None
    failure = wait_for(lambda: call("rollout", bad), 30, "the rollout hook to fail")
    assert "reelgate blocks shop/checkout" in failure and "`judge` is fail" in failure  # Flagger's event text
    assert call("confirm-promotion", bad) is not None
    assert call("rollback", bad) is None  # blocked: a 2xx, so Flagger rolls back
    assert token not in service.log.read_text()


def _step_ends(step: HttpStep) -> tuple[str, str]:
    """Kargo's polling: run the step again while it is Running."""

    def ended() -> tuple[str, str] | None:
        status, message = run_step(step)
        return None if status == "Running" else (status, message)

    return wait_for(ended, 30, "the http step to end")


def test_kargo_http_step_polls_until_the_verdict(service: Service, candidate: tuple[Candidate, str]) -> None:
    held, url = candidate
    token = service.token("shop")
    values = {
        "vars.reelgateUrl": service.url,
        "secret('reelgate-gate-token').token": token,
        "ctx.project": "shop",
        "ctx.stage": "checkout",
        "ctx.targetFreight.name": _revision(),
        "vars.candidateUrl": url,
    }
    step = kargo_step(values)
    assert run_step(step) == ("Running", "")
    held.set("good")
    assert _step_ends(step) == ("Succeeded", "")

    held.set("bad")
    bad = kargo_step(values | {"ctx.targetFreight.name": _revision()})
    status, message = _step_ends(bad)
    assert status == "Failed" and "`judge` is fail" in message
    refused = kargo_step(values | {"secret('reelgate-gate-token').token": "rgt_wrong"})
    assert run_step(refused)[0] == "Failed"  # a 401 is terminal, not polled forever


def test_tokens_are_scoped_to_namespaces_and_revocable(
    service: Service, stack: Stack, candidate: tuple[Candidate, str]
) -> None:
    _, url = candidate
    elsewhere = service.token("billing")
    ask = {"namespace": "shop", "name": "checkout", "revision": _revision(), "candidate_url": url}
    post = partial(httpx.post, f"{service.url}/v1/runs", json=ask, timeout=5)
    assert post().status_code == 401
    scoped = post(headers=_auth(elsewhere))
    assert scoped.status_code == 403 and "billing" not in scoped.text and "shop" in scoped.text
    name = f"t-{uuid.uuid4().hex[:8]}"
    token = stack.cli("gate", "token", "create", name, "--namespace=*").stdout.strip().splitlines()[-1]
    assert token.startswith("rgt_") and token not in stack.cli("gate", "token", "list").stdout
    assert httpx.get(f"{service.url}/v1/runs/shop/none/x", headers=_auth(token), timeout=5).status_code == 404
    stack.cli("gate", "token", "revoke", name)
    assert httpx.get(f"{service.url}/v1/runs/shop/none/x", headers=_auth(token), timeout=5).status_code == 401


def test_gate_wait_exits_as_argo_job_provider_expects(
    service: Service, stack: Stack, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")

    def wait(revision: str, secret: str) -> subprocess.CompletedProcess[str]:
        args = ["gate", "wait", "--service", service.url, "--namespace", "shop", "--name", "checkout"]
        args += ["--revision", revision, "--candidate-url", url, "--interval", "0.3", "--timeout", "60"]
        return subprocess.run(
            [REELGATE, *args], env=stack.env | {"REELGATE_GATE_TOKEN": secret}, capture_output=True, text=True
        )

    _later(1.0, lambda: held.set("good"))
    promoted = wait(_revision(), token)
    assert promoted.returncode == 0 and "promote:" in promoted.stdout, promoted.stderr
    held.set("bad")
    blocked = wait(_revision(), token)
    assert blocked.returncode == 1 and "block:" in blocked.stdout
    refused = wait(_revision(), "rgt_wrong")
    assert refused.returncode == 2 and "401" in refused.stderr and "Traceback" not in refused.stderr


def test_history_and_metrics_show_the_service_runs(
    service: Service, stack: Stack, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    held.set("good")
    token = service.token("shop")
    analysis, metric = argo_metric(_args(service, token, _revision(), url), scale=0.05)
    assert run_analysis(analysis, metric).phase == "Successful"
    hook = flagger_hooks()["pre-rollout"]
    meta = {**hook["metadata"], "token": token, "candidate_url": url}
    assert call_webhook(service.url + "/v1/flagger/pre-rollout", payload("checkout", "shop", _revision(), meta)) is None
    history = stack.cli("release", "history", "--limit", "100").stdout
    assert "argo " in history and "flagger " in history and "shop/checkout@" in history
    metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
    assert 'reelgate_gate_verdicts_total{source="argo",verdict="promote"}' in metrics
    assert 'reelgate_gate_runs{state="finished"}' in metrics
    assert "reelgate_gate_run_duration_seconds_bucket" in metrics
    assert msgspec.json.decode(httpx.get(f"{service.url}/health", timeout=5).content)["policy"] == "service"


def test_a_candidate_key_is_named_by_reference_and_never_travels(
    service: Service, candidate: tuple[Candidate, str]
) -> None:
    held, url = candidate
    token = service.token("shop")
    ask = {"namespace": "shop", "name": "checkout", "revision": _revision(), "candidate_url": url}
    post = partial(httpx.post, f"{service.url}/v1/runs", headers=_auth(token), timeout=5)
    missing = post(json=ask | {"api_key_secret": "nosuch"})
    assert missing.status_code == 400 and "holds no secret named 'nosuch'" in missing.text
    assert post(json=ask | {"api_key_secret": "../secrets"}).status_code == 400  # a name, not a path
    started = post(json=ask | {"api_key_secret": "checkout-key"})
    assert started.status_code == 200 and "rg_candidate_key" not in started.text
    wait_for(lambda: held.key == "rg_candidate_key", 10, "the gate to call the candidate with its key")
    held.set("good")
    assert service.finished(ask["revision"], token)["verdict"] == "promote"


BAD_FILE = """diff --git a/contract/shell.py b/contract/shell.py
new file mode 100644
--- /dev/null
+++ b/contract/shell.py
@@ -0,0 +1,5 @@
+import subprocess
+
+
+def run(command: str) -> int:
+    return subprocess.call(command, shell=True)
"""


def test_the_gates_that_read_the_source_read_the_commit_asked_about(
    stack: Stack, tmp_path: Path, candidate: tuple[Candidate, str]
) -> None:
    """A run with `commit` gets a checkout of it through the policy's deployer: bandit passes HEAD and blocks
    a commit that adds a shell call, and an unknown commit is a `block` that says it cannot be checked out."""
    _, url = candidate
    policy = tmp_path / "source.yaml"
    policy.write_text(
        f'deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\n'
        "gates:\n  - {id: sast, uses: bandit, with: {paths: [contract]}}\n"
    )
    patch = tmp_path / "shell.patch"
    patch.write_text(BAD_FILE)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    token = new_gate_token(stack, "shop")
    with gate_service(stack, policy, tmp_path / "service.log") as service_url, patched_branch(patch, "shell") as bad:
        service = Service(service_url, stack, tmp_path / "service.log")
        verdicts = {}
        for name, commit in (("head", head), ("bad", bad), ("unknown", "0" * 40)):
            revision = _revision()
            ask = {"namespace": "shop", "name": "checkout", "revision": revision, "candidate_url": url}
            started = httpx.post(
                f"{service_url}/v1/runs", json=ask | {"commit": commit}, headers=_auth(token), timeout=5
            )
            assert started.status_code == 200, started.text
            verdicts[name] = service.finished(revision, token)
            assert not (stack.home / "var" / "runs" / "shop" / "checkout" / revision / "src").exists()  # removed
    assert verdicts["head"]["verdict"] == "promote", verdicts["head"]
    assert verdicts["bad"]["verdict"] == "block" and "`sast` is fail" in verdicts["bad"]["reason"]
    assert verdicts["unknown"]["verdict"] == "block" and "cannot check out 000000" in verdicts["unknown"]["reason"]
