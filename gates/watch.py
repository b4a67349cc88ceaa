"""The post-promotion watch: the new live color's real traffic, judged interval by interval.

The watch reads the new live color's own Prometheus metrics (`/metrics`: every
request the API answered, by status, with a latency histogram), so it works
behind either router. Each interval is judged on the requests answered in it:
the share of 5xx answers and the p95 latency. A color that does not answer
its metrics at all fails the interval: a crashed release must not look idle.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

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
