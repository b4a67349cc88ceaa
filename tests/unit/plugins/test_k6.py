"""Reading k6's handleSummary data: the measured values, and k6's own thresholds the right way round."""

from __future__ import annotations

from reelgate.plugins.k6 import measurements, threshold_checks

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
