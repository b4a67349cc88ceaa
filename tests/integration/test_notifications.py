"""Notifications delivered as the issue asks, to a real HTTP receiver, claimed in the stack's PostgreSQL:
once per (event, notifier) even when two runners see the same transition; retried on a 5xx and on a 429 (after
its Retry-After), not on a 4xx; a failure recorded on the release's timeline; the webhook's signature checks
out with the shared secret. A whole release with notifications is in test_release.py."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from reelgate.gates.manager import registry
from reelgate.gates.notify import Notifications
from reelgate.gates.policy import parse_policy
from reelgate.gates.store import Store
from reelgate.plugins.webhook import SIGNATURE, TIMESTAMP, sign
from tests.http_server import Receiver, receiving
from tests.integration.stack import Stack
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _notifications(stack: Stack, targets: str, dashboard: str = "") -> Notifications:
    reg = registry()
    loaded = parse_policy("gates:\n  - {uses: k6}\nnotify:\n" + targets, "p.yaml", reg.gates, None, None, reg.notifiers)
    return Notifications(loaded, reg.notifiers, stack.settings.db_url, dashboard)


def _release(stack: Stack) -> str:
    """A release record to notify about, ended at once (only one release may be under way on a stack)."""
    release_id = f"rtest-{uuid.uuid4().hex[:8]}"
    store = Store(stack.settings.db_url)
    try:
        store.migrate()  # the engine's tables (its CLI migrates them on first use)
        store.create(release_id, "HEAD", "p", "p.yaml", "blue", "green")
        store.transition(release_id, "aborted", "a record for the notification tests", "test")
    finally:
        store.close()
    return release_id


def _row(stack: Stack, release_id: str) -> tuple[str, int, str]:
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute(
            "SELECT state, attempts, error FROM reelgate_gates.notifications WHERE release_id = %s", (release_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.fixture()
def receiver() -> Iterator[tuple[Receiver, str]]:
    with receiving() as (found, url):
        yield found, url


def test_two_runners_seeing_one_transition_send_it_once(stack: Stack, receiver: tuple[Receiver, str]) -> None:
    seen, url = receiver
    release_id = _release(stack)
    hook = f"  - {{uses: webhook, with: {{url: {url}/once}}}}\n"
    runners = [_notifications(stack, hook, "https://releases.example.test/") for _ in range(2)]
    for runner in runners:
        runner.emit("promoted", release_id, "HEAD", "promoted", "green is live")
    for runner in runners:
        runner.close()
    assert len(seen.on("/once")) == 1
    assert _row(stack, release_id) == ("sent", 1, "")
    body = json.loads(seen.on("/once")[0][2])
    assert body["trigger"] == "promoted" and body["release_id"] == release_id
    assert body["dashboard"] == f"https://releases.example.test/dashboard/releases/{release_id}"


def test_a_5xx_and_a_429_are_retried_a_4xx_is_recorded_and_dropped(
    stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    seen, url = receiver
    seen.script["/flaky"] = [(503, {}), (502, {})]
    seen.script["/limited"] = [(429, {"Retry-After": "1"})]
    seen.script["/refuses"] = [(400, {})]
    releases = {path: _release(stack) for path in ("/flaky", "/limited", "/refuses")}
    for path, release_id in releases.items():
        runner = _notifications(stack, f"  - {{uses: webhook, with: {{url: {url}{path}}}, name: hook}}\n")
        runner.emit("blocked", release_id, "HEAD", "blocked", "`read` is fail")
        runner.close()
    assert len(seen.on("/flaky")) == 3 and _row(stack, releases["/flaky"]) == ("sent", 3, "")
    limited = seen.on("/limited")
    assert len(limited) == 2 and limited[1][3] - limited[0][3] >= 1.0  # waited as it was asked to
    state, attempts, error = _row(stack, releases["/refuses"])
    assert (state, attempts, len(seen.on("/refuses"))) == ("failed", 1, 1) and "HTTP 400" in error
    store = Store(stack.settings.db_url)
    try:
        timeline = store.timeline(releases["/refuses"])
    finally:
        store.close()
    assert any(e.kind == "notify-failed" and "notifying hook of blocked failed" in e.message for e in timeline)


def test_the_webhook_signature_verifies_at_the_receiver(
    stack: Stack, receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, url = receiver
    monkeypatch.setenv("REELGATE_TEST_HOOK_SECRET", "shared-secret")
    runner = _notifications(
        stack, f"  - {{uses: webhook, with: {{url: {url}/signed, secret_env: REELGATE_TEST_HOOK_SECRET}}}}\n"
    )
    runner.emit("started", _release(stack), "HEAD", "deploying", "deploying HEAD as green")
    runner.close()
    wait_for(lambda: seen.on("/signed"), 5, "the signed delivery")
    _, headers, body, _ = seen.on("/signed")[0]
    assert hmac.compare_digest(headers[SIGNATURE], sign("shared-secret", headers[TIMESTAMP], body))
    assert abs(int(headers[TIMESTAMP]) - time.time()) < 60
