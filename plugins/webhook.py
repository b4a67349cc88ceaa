"""`webhook`: a notification as JSON to any URL, signed so the receiver can tell it came from reelgate.

The body is the `Notification` (event id, trigger, release, state, reason, the failed checks with their values
and thresholds, the report and dashboard links). With `secret_env`, the request carries

    X-Reelgate-Timestamp: <unix seconds>
    X-Reelgate-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>

as Slack and Stripe sign theirs: a receiver recomputes it with the shared secret, compares in constant time,
and refuses a timestamp older than a few minutes (a replay). `X-Reelgate-Event` is the event id: the same on
every delivery of one event, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Any

import msgspec

from reelgate.gates.api import Notification, NotifyError, Outgoing, hookimpl

SIGNATURE = "X-Reelgate-Signature"
TIMESTAMP = "X-Reelgate-Timestamp"


class WebhookConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str = ""
    """Where to POST; or `url_env`, the variable holding it (a URL with a token in it is a secret)."""
    url_env: str = ""
    secret_env: str = ""
    """The variable holding the HMAC secret; empty: the requests are not signed."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def target_url(config: Any, tool: str) -> str:
    """The URL from `url` or the variable `url_env` names; NotifyError naming what is missing."""
    url = config.url or (os.environ.get(config.url_env, "") if config.url_env else "")
    if not url:
        where = f"the variable {config.url_env} is not set" if config.url_env else "no `url` or `url_env`"
        raise NotifyError(f"{tool} has nowhere to send to: {where}")
    return str(url)


class WebhookNotifier:
    name = "webhook"
    Config = WebhookConfig

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    def request(self, event: Notification) -> Outgoing:
        body = msgspec.json.encode(event)
        headers = {"Content-Type": "application/json", "X-Reelgate-Event": event.event_id}
        if self.config.secret_env:
            secret = os.environ.get(self.config.secret_env, "")
            if not secret:
                raise NotifyError(f"the webhook's signing secret {self.config.secret_env} is not set")
            stamp = str(int(time.time()))
            headers |= {TIMESTAMP: stamp, SIGNATURE: sign(secret, stamp, body)}
        return Outgoing(url=target_url(self.config, "the webhook"), body=body, headers=headers)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(WebhookNotifier)
