"""The example third-party gate, tested the way its author would: with reelgate.gates.testing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.http_server import serving

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugin_example"))
from reelgate_example.plugin import HttpStatusGate  # type: ignore[import-not-found]  # noqa: E402  (on sys.path above)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


def test_passes_on_the_expected_status(run_gate, server: str) -> None:
    result = run_gate(
        HttpStatusGate, {"path": "/ok"}, target=server, checks=[{"name": "latency_ms", "op": "<=", "threshold": 1000}]
    )
    assert result.verdict == "pass"
    assert {c.name for c in result.checks} == {"latency_ms", "status"}


def test_fails_on_another_status_and_errors_when_unreachable(run_gate, server: str) -> None:
    failed = run_gate(HttpStatusGate, {"path": "/down"}, target=server)
    assert failed.verdict == "fail" and "status" in failed.reason
    unreachable = run_gate(HttpStatusGate, {}, target="http://127.0.0.1:9")
    assert unreachable.verdict == "error" and "unreachable" in unreachable.reason


def test_unknown_config_field_is_refused(run_gate) -> None:
    from reelgate.gates.policy import PolicyError

    with pytest.raises(PolicyError, match="unknown field `pth`"):
        run_gate(HttpStatusGate, {"pth": "/x"})
