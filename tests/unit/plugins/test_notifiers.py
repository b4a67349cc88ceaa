"""The built-in notifiers' requests: the webhook's body is the event and its signature verifies with the shared
secret (and fails with another, or with a changed body); Slack's attachment is colored by the verdict and
carries each failed check as a field; a missing secret or URL is a NotifyError naming the variable."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime

import msgspec
import pytest

from reelgate.gates.api import FailedCheck, Notification, NotifyError
from reelgate.plugins.slack import SlackConfig, SlackNotifier
from reelgate.plugins.webhook import SIGNATURE, TIMESTAMP, WebhookConfig, WebhookNotifier, sign

EVENT = Notification(
    event_id="4b5e0f0e-1111-5222-8333-444455556666",
    trigger="blocked",
    release_id="r2026-abc",
    candidate="feature/slow",
    state="blocked",
    reason="`read` is fail: p95_ms 316.7 > 250",
    failed_checks=[FailedCheck(gate="read", check="p95_ms", verdict="fail", value=316.7, threshold=250, unit="ms")],
    report="/var/releases/r2026-abc/reports/report.html",
    at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
)


def test_the_webhook_posts_the_event_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    out = WebhookNotifier(WebhookConfig(url="http://hooks.example/in", secret_env="HOOK_SECRET")).request(EVENT)
    body = json.loads(out.body)
    assert out.url == "http://hooks.example/in" and out.headers["X-Reelgate-Event"] == EVENT.event_id
    assert body["trigger"] == "blocked" and body["failed_checks"][0]["value"] == 316.7
    stamp, signature = out.headers[TIMESTAMP], out.headers[SIGNATURE]
    assert hmac.compare_digest(signature, sign("s3cret", stamp, out.body))  # what a receiver does
    assert not hmac.compare_digest(signature, sign("other", stamp, out.body))
    assert not hmac.compare_digest(signature, sign("s3cret", stamp, out.body + b" "))
    assert "s3cret" not in out.body.decode() and "s3cret" not in str(out.headers)


def test_a_missing_secret_or_url_is_a_notify_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(NotifyError, match="NOPE is not set"):
        WebhookNotifier(WebhookConfig(url="http://x", secret_env="NOPE")).request(EVENT)
    with pytest.raises(NotifyError, match="the variable NOPE is not set"):
        SlackNotifier(SlackConfig(url_env="NOPE")).request(EVENT)


def test_slack_colors_by_verdict_and_lists_the_failed_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.example/services/T/B/x")
    out = SlackNotifier(SlackConfig()).request(EVENT)
    [attachment] = json.loads(out.body)["attachments"]
    assert attachment["color"] == "danger" and "blocked" in attachment["title"]
    assert attachment["fields"] == [{"title": "read: p95_ms", "value": "316.7 ms (limit 250)", "short": True}]
    assert attachment["text"].startswith(EVENT.reason) and "report.html" in attachment["text"]
    promoted = SlackNotifier(SlackConfig()).request(
        msgspec.structs.replace(EVENT, trigger="promoted", failed_checks=[])
    )
    assert json.loads(promoted.body)["attachments"][0]["color"] == "good"
