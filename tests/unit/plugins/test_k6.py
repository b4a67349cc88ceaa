"""Reading k6's handleSummary data: the measured values, and k6's own thresholds the right way round."""

from __future__ import annotations

import gzip
from pathlib import Path

from reelgate.plugins.k6 import latency_series, measurements, threshold_checks

SUMMARY = {
    "metrics": {
        "http_req_duration": {
            "values": {"med": 1.5, "p(95)": 7.25, "p(99)": 12.0},
            "thresholds": {"p(95)<5": {"ok": False}, "p(99)<50": {"ok": True}},
        },
        "http_reqs": {"values": {"count": 400, "rate": 39.9}},
        "http_req_failed": {"values": {"rate": 0.0025}},
    }
}


def test_measurements_name_units_and_values() -> None:
    found = {c.name: (c.value, c.unit) for c in measurements(SUMMARY)}
    assert found == {
        "p50_ms": (1.5, "ms"),
        "p95_ms": (7.25, "ms"),
        "p99_ms": (12.0, "ms"),
        "rps": (39.9, "req/s"),
        "error_rate": (0.0025, "ratio"),
        "requests": (400.0, "requests"),
    }
    assert {c.name for c in measurements(SUMMARY, "baseline:")} == {f"baseline:{c}" for c in found}


def test_a_percentile_k6_did_not_report_is_not_measured() -> None:
    """k6 reports p(90) and p(95) unless the script asks for more: p99 is then missing, not 0 ms."""
    summary = {"metrics": {**SUMMARY["metrics"], "http_req_duration": {"values": {"med": 1.5, "p(95)": 7.25}}}}
    names = [c.name for c in measurements(summary)]
    assert "p99_ms" not in names and {"p50_ms", "p95_ms", "error_rate"} <= set(names)


def test_no_request_means_no_measurement() -> None:
    assert measurements({"metrics": {"http_reqs": {"values": {"count": 0}}}}) == []
    assert measurements({}) == []


def test_threshold_ok_true_held_and_false_crossed() -> None:
    """In handleSummary data `ok: true` means the threshold held (unlike --summary-export's booleans)."""
    checks = {c.name: c for c in threshold_checks(SUMMARY)}
    assert checks["k6:http_req_duration:p(95)<5"].verdict == "fail"
    assert checks["k6:http_req_duration:p(95)<5"].note == "k6 threshold crossed"
    assert checks["k6:http_req_duration:p(99)<50"].verdict == "pass"
    assert all(c.value is None for c in checks.values())


def test_latency_series_is_the_p95_of_each_second(tmp_path: Path) -> None:
    """From k6's CSV output (`--out csv=`): only http_req_duration counts, one point per second of the run."""
    rows = ["metric_name,timestamp,metric_value,check,error,error_code"]
    rows += [f"http_req_duration,1000,{ms},,,," for ms in range(1, 21)]  # second 0: 1..20 ms
    rows += ["http_reqs,1000,1,,,,", "http_req_duration,1002,50,,,,"]  # second 2: one request
    samples = tmp_path / "k6-samples-target.csv.gz"
    samples.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    series = latency_series(samples, "candidate")
    assert series is not None and (series.name, series.label, series.unit) == ("p95_ms", "candidate", "ms")
    assert series.points == [(0.0, 20.0), (2.0, 50.0)]
    samples.write_bytes(gzip.compress((rows[0] + "\nhttp_reqs,1000,1,,,,\n").encode()))
    assert latency_series(samples, "live") is None
