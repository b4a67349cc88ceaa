"""The ZAP gate against a real ZAP daemon, whenever one is given in REELGATE_ZAP_URL (with its API key in
REELGATE_ZAP_API_KEY); skipped otherwise: the daemon (Java) cannot be installed on this machine. See
docs/security.md for running ZAP beside reelgate. ZAP must be able to reach the stack's router."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.stack import Stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("REELGATE_ZAP_URL"), reason="REELGATE_ZAP_URL is not set: no ZAP daemon"),
]


def test_a_real_passive_scan_of_the_platform(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("zap-real", "--rate-limit", "0")
    out = tmp_path / "zap"
    run = stack.cli("gate", "run", "zap", "--target", stack.router, "--api-key", key, "--out", str(out), check=False)
    result = json.loads((out / "report.json").read_text())["results"][0]
    assert result["verdict"] in ("pass", "warn", "fail"), result["reason"]  # it measured something
    checks = {c["name"]: c["value"] for c in result["checks"]}
    assert checks["urls_scanned"] > 0 and run.returncode in (0, 1)
    assert any(a.endswith("zap-alerts.json") for a in result["artifacts"])
