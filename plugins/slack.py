"""`slack`: a notification to a Slack incoming webhook, as one attachment colored by how the release went
(green promoted, red blocked, rolled back or errored, amber otherwise), the reason as its text and each failed
check as a field with its value and threshold. The webhook URL is a secret (it is the credential): give it in
the variable `url_env` names, not in the policy."""

from __future__ import annotations

from typing import Any

import msgspec

from reelgate.gates.api import FailedCheck, Notification, Outgoing, hookimpl
from reelgate.plugins.webhook import target_url

COLORS = {"promoted": "good", "blocked": "danger", "rolled_back": "danger", "errored": "danger"}
TITLES = {
    "started": "started",
    "gate_failed": "a gate failed",
    "awaiting_approval": "is waiting for approval",
    "promoted": "promoted",
    "blocked": "blocked",
    "switched_back": "switched back",
    "rolled_back": "rolled back",
    "aborted": "aborted",
    "errored": "errored",
}


class SlackConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url_env: str = "SLACK_WEBHOOK_URL"
    """The variable holding the incoming webhook's URL."""
    url: str = ""
    """The URL itself (prefer `url_env`: the URL is the credential)."""
    channel: str = ""
    """Another channel than the webhook's own, if the webhook allows it."""


def _field(check: FailedCheck) -> dict[str, Any]:
    if check.value is None:
        value = check.check
    else:
        value = f"{check.value:g} {check.unit}".strip()
        if check.threshold is not None:
            value += f" (limit {check.threshold:g})"
        if check.baseline is not None:
            value += f" (baseline {check.baseline:g})"
    return {
        "title": f"{check.gate}: {check.check if check.value is not None else check.verdict}",
        "value": value,
        "short": True,
    }


class SlackNotifier:
    name = "slack"
    Config = SlackConfig

    def __init__(self, config: SlackConfig) -> None:
        self.config = config

    def request(self, event: Notification) -> Outgoing:
        link = f" <{event.dashboard or event.report}|report>" if (event.dashboard or event.report) else ""
        attachment = {
            "fallback": f"release {event.release_id} {TITLES[event.trigger]}: {event.reason}",
            "color": COLORS.get(event.trigger, "warning"),
            "title": f"release {event.release_id} ({event.candidate}) {TITLES[event.trigger]}",
            "text": event.reason + link,
            "fields": [_field(c) for c in event.failed_checks[:10]],
            "footer": f"reelgate · {event.event_id}",
            "ts": int(event.at.timestamp()),
        }
        payload: dict[str, Any] = {"attachments": [attachment]}
        if self.config.channel:
            payload["channel"] = self.config.channel
        body = msgspec.json.encode(payload)
        return Outgoing(url=target_url(self.config, "Slack"), body=body, headers={"Content-Type": "application/json"})


@hookimpl
def register_notifiers(register: Any) -> None:
    register(SlackNotifier)
