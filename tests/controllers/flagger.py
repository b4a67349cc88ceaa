"""Flagger's webhook call (`pkg/controller/webhook.go`) and the hooks' meanings (`scheduler_hooks.go`,
`scheduler.go`): always a POST of `{name, namespace, phase, checksum, metadata}` (no `metadata` key when the
hook has none) within 10 s; a status above 202 is a failure whose body is the event's text; with `retries`,
go-retryablehttp re-sends after a connection error, a 429 or a 5xx other than 501, and when it gives up the
body is lost ("giving up after N attempt(s)")."""

from __future__ import annotations

import time
from typing import Any

import httpx


def call_webhook(
    url: str, payload: dict[str, Any], retries: int = 0, timeout: float = 10.0, wait: float = 0.05
) -> str | None:
    """None when the hook passes; the failure's text otherwise (`callWebhook`)."""
    attempts = 0
    with httpx.Client(timeout=timeout) as client:
        while True:
            attempts += 1
            try:
                response = client.post(url, json=payload, headers={"Content-Type": "application/json"})
                retry = response.status_code == 429 or (response.status_code >= 500 and response.status_code != 501)
            except httpx.HTTPError as exc:
                response, retry = None, True
                error = f"{type(exc).__name__}: {exc}"
            if not retry or attempts > retries:
                break
            time.sleep(wait * 2 ** (attempts - 1))  # go-retryablehttp's exponential backoff, scaled down
    if retries and retry:
        return f"POST {url} giving up after {attempts} attempt(s)"
    if response is None:
        return error
    return response.text if response.status_code > 202 else None


def payload(
    name: str, namespace: str, checksum: str, metadata: dict[str, str] | None, phase: str = "Progressing"
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "namespace": namespace, "phase": phase, "checksum": checksum}
    if metadata is not None:  # `json:"metadata,omitempty"`
        body["metadata"] = metadata
    return body
