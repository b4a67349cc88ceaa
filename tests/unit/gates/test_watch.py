"""Judging the watch's samples from the API's Prometheus text: 5xx share and p95 between two readings."""

from __future__ import annotations

import pytest

from reelgate.gates.policy import WatchPolicy, seconds
from reelgate.gates.watch import Counts, judge, p95, parse_counts

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def metrics(ok: int, errors: int, fast: int, slow: int) -> str:
    """The shape the API's /metrics has: counters and a histogram per (method, path, status)."""
    lines = [
        "# HELP reelgate_requests_total HTTP requests answered",
        "# TYPE reelgate_requests_total counter",
        f'reelgate_requests_total{{method="GET",path="/v1/videos",status_code="200"}} {ok}',
        f'reelgate_requests_total{{method="GET",path="/v1/videos",status_code="500"}} {errors}',
        "# HELP reelgate_request_duration_seconds Time to answer",
        "# TYPE reelgate_request_duration_seconds histogram",
    ]
    for bound in (*BUCKETS, float("inf")):
        # `fast` requests took 4 ms, `slow` ones 400 ms, all on one series.
        count = (fast if bound >= 0.005 else 0) + (slow if bound >= 0.5 else 0)
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        lines.append(
            f'reelgate_request_duration_seconds_bucket{{method="GET",path="/v1/videos",status_code="200",le="{le}"}} '
            f"{count}"
        )
    lines.append(
        f'reelgate_request_duration_seconds_count{{method="GET",path="/v1/videos",status_code="200"}} {fast + slow}'
    )
    return "\n".join(lines) + "\n"


def test_counts_sum_every_series_and_split_5xx() -> None:
    counts = parse_counts(metrics(ok=90, errors=10, fast=100, slow=0))
    assert (counts.requests, counts.errors) == (100, 10)
    assert dict(counts.buckets)[float("inf")] == 100


def test_an_interval_is_judged_on_its_own_requests() -> None:
    before = parse_counts(metrics(ok=1000, errors=0, fast=1000, slow=0))
    healthy = parse_counts(metrics(ok=1100, errors=0, fast=1100, slow=0))
    broken = parse_counts(metrics(ok=1100, errors=50, fast=1100, slow=0))
    policy = WatchPolicy(duration="1m", max_error_ratio=0.01)
    good = judge(before, healthy, policy)
    assert good.ok and (good.requests, good.errors) == (100, 0) and good.p95_ms is not None and good.p95_ms <= 5
    bad = judge(before, broken, policy)
    assert not bad.ok and bad.errors == 50 and "50 of 150 requests answered 5xx" in bad.reason


def test_p95_from_the_histogram_and_its_limit() -> None:
    before = parse_counts(metrics(ok=0, errors=0, fast=0, slow=0))
    after = parse_counts(metrics(ok=100, errors=0, fast=90, slow=10))
    latency = p95(before, after)
    assert latency is not None and 250 < latency <= 500  # the slowest tenth took 400 ms
    sample = judge(before, after, WatchPolicy(duration="1m", max_p95_ms=200))
    assert not sample.ok and "p95" in sample.reason
    assert p95(after, after) is None  # no request in the interval: nothing to say about latency


def test_an_idle_interval_passes_unless_requests_are_required() -> None:
    same = Counts(requests=5, errors=0, buckets=())
    assert judge(same, same, WatchPolicy(duration="1m")).ok
    assert not judge(same, same, WatchPolicy(duration="1m", min_requests=1)).ok


@pytest.mark.parametrize(("text", "value"), [("15s", 15), ("5m", 300), ("500ms", 0.5), ("1h", 3600), (2.5, 2.5)])
def test_durations(text: str | float, value: float) -> None:
    assert seconds(text) == value


def test_a_bad_duration_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match="expected a duration such as 15s, 5m or 1h, found '5 minutes'"):
        seconds("5 minutes")
