"""The post-promotion watch: the new live color's real traffic, judged interval by interval.

The watch reads the new live color's own Prometheus metrics (`/metrics`: every
request the API answered, by status, with a latency histogram), so it works
behind either router. Each interval is judged on the requests answered in it:
the share of 5xx answers and the p95 latency. A color that does not answer
its metrics at all fails the interval: a crashed release must not look idle.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families

from reelgate.gates.policy import WatchPolicy

REQUESTS = "reelgate_requests"
DURATION = "reelgate_request_duration_seconds"


class MetricsError(Exception):
    """The color's metrics could not be read; the message says why."""


class Counts(msgspec.Struct, frozen=True):
    """Cumulative counters of one color at one moment."""

    requests: float
    errors: float
    """Answers with a 5xx status."""
    buckets: tuple[tuple[float, float], ...]
    """(upper bound in seconds, cumulative count) of the latency histogram, all routes together."""


class Sample(msgspec.Struct, kw_only=True):
    """One interval of the watch."""

    at: datetime
    requests: int
    errors: int
    error_ratio: float
    p95_ms: float | None
    ok: bool
    reason: str


def parse_counts(text: str) -> Counts:
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{REQUESTS}_total":
                requests += sample.value
                if sample.labels.get("status_code", "").startswith("5"):
                    errors += sample.value
            elif sample.name == f"{DURATION}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return Counts(requests=requests, errors=errors, buckets=tuple(sorted(buckets.items())))


async def read_counts(url: str) -> Counts:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            answer = await client.get(f"{url.rstrip('/')}/metrics")
    except httpx.HTTPError as exc:
        raise MetricsError(f"{url}/metrics does not answer ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise MetricsError(f"{url}/metrics answered {answer.status_code}")
    try:
        return parse_counts(answer.text)
    except ValueError as exc:
        raise MetricsError(f"{url}/metrics is not Prometheus text: {exc}") from None


def p95(before: Counts, after: Counts) -> float | None:
    """The 95th percentile in ms of the requests between two readings (linear within a bucket)."""
    old = dict(before.buckets)
    deltas = [(bound, count - old.get(bound, 0.0)) for bound, count in after.buckets]
    total = deltas[-1][1] if deltas else 0.0
    if total <= 0:
        return None
    rank = 0.95 * total
    lower, below = 0.0, 0.0
    for bound, cumulative in deltas:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower * 1000  # above the last finite bound: report that bound
            share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, cumulative
    return None


def judge(before: Counts, after: Counts, policy: WatchPolicy) -> Sample:
    requests = int(after.requests - before.requests)
    errors = int(after.errors - before.errors)
    ratio = errors / requests if requests else 0.0
    latency = p95(before, after)
    problems = []
    if requests and ratio > policy.max_error_ratio:
        problems.append(f"{errors} of {requests} requests answered 5xx ({ratio:.1%} > {policy.max_error_ratio:.1%})")
    if policy.max_p95_ms is not None and latency is not None and latency > policy.max_p95_ms:
        problems.append(f"p95 {latency:.0f} ms > {policy.max_p95_ms:g} ms")
    if requests < policy.min_requests:
        problems.append(f"only {requests} requests, fewer than min_requests {policy.min_requests}")
    latency_text = f", p95 {latency:.0f} ms" if latency is not None else ""
    summary = f"{requests} requests, {errors} 5xx{latency_text}"
    return Sample(
        at=datetime.now(UTC),
        requests=requests,
        errors=errors,
        error_ratio=round(ratio, 6),
        p95_ms=None if latency is None else round(latency, 3),
        ok=not problems,
        reason="; ".join(problems) or summary,
    )


def failed_read(reason: str) -> Sample:
    return Sample(at=datetime.now(UTC), requests=0, errors=0, error_ratio=0.0, p95_ms=None, ok=False, reason=reason)


Failure = tuple[str, str | None, float]
"""Why the watch failed, the gate that failed (None for the traffic), and when it was seen (time.monotonic())."""


async def watch(
    url: str,
    color: str,
    policy: WatchPolicy,
    record: Callable[[str, str, dict[str, Any] | None], None],
    post_gates: Callable[[], Awaitable[Failure | None]],
) -> Failure | None:
    """Judge `color`'s own traffic at `url` every interval, and run the post gates again, until the watch
    ends; return the first failure (the caller switches traffic back), or None. `record(kind, message)`
    keeps each sample in the release's timeline
    (with the sample's figures as `detail`)."""
    deadline = time.monotonic() + policy.duration_s
    record("watch", f"watching {color} for {policy.duration_s:g} s, a sample every {policy.interval_s:g} s", None)
    try:
        before = await read_counts(url)
    except MetricsError as exc:
        return f"the watch could not read {color}'s metrics: {exc}", None, time.monotonic()
    number = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(max(0.0, min(policy.interval_s, deadline - time.monotonic())))
        number += 1
        try:
            after = await read_counts(url)
            sample = judge(before, after, policy)
            before = after
        except MetricsError as exc:
            sample = failed_read(str(exc))
        detail = msgspec.to_builtins(sample) | {"number": number}
        record("watch-sample" if sample.ok else "watch-failed", f"sample {number}: {sample.reason}", detail)
        if not sample.ok:
            return f"the watch's sample {number} of {color}'s traffic failed: {sample.reason}", None, time.monotonic()
        failure = await post_gates()
        if failure is not None:
            return failure
    record("watch-passed", f"{number} samples of {color} passed", None)
    return None
