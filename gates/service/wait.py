"""`reelgate gate wait`: ask the gate service for a verdict and poll until it comes, for Argo Rollouts' `job`
provider (a Job's exit code is its measurement). Transient trouble (no answer, a 503, a 429) is retried until
the deadline; a refusal (401, 403, 400, an expired run's 410) is an error at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

RETRIED = {429, 502, 503, 504}


class WaitError(Exception):
    """No verdict: the service refused, the run expired, or the deadline passed."""


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text)
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"


def wait_for_verdict(
    service: str,
    token: str,
    ask: dict[str, Any],
    interval: float,
    timeout: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The finished run (its `verdict` is `promote` or `block`); WaitError when no verdict comes."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    last = ""
    with httpx.Client(base_url=service.rstrip("/"), headers=headers, timeout=10) as client:
        while True:
            try:
                response = client.post("/v1/runs", json=ask)  # create-or-attach: every poll is the same ask
            except httpx.HTTPError as exc:
                status, seen = 0, f"the gate service does not answer ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    run: dict[str, Any] = response.json()["run"]
                    if run["state"] == "finished":
                        return run
                    seen = f"{run['state']}: {run['reason']} ({run['seconds']:.0f} s)"
                elif status in RETRIED:
                    seen = f"HTTP {status}: {_detail(response)}"
                else:
                    raise WaitError(f"the gate service refused (HTTP {status}): {_detail(response)}")
            if seen != last:
                say(seen)
                last = seen
            if time.monotonic() + interval > deadline:
                raise WaitError(f"no verdict after {timeout:.0f} s; last: {seen}")
            time.sleep(interval)
