"""The VMAF gate on the real stack: a reference clip goes through the platform's ladder, every frame of
every rendition is scored by libvmaf (the static ffmpeg 9 from imageio-ffmpeg) against the source."""

from __future__ import annotations

import json
from pathlib import Path

from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.vmaf import VmafGate
from tests.integration.stack import Stack


def test_every_rendition_is_scored_against_its_source(stack: Stack, tmp_path: Path) -> None:
    key = stack.tenant("vmaf")
    config = {"clips": [{"name": "zoom", "source": "mandelbrot=size={size}:rate=30"}], "seconds": 2,
              "size": "854x480"}  # fmt: skip
    result = run_gate_sync(VmafGate, config, stack.router, tmp_path, api_key=key)
    assert result.verdict == "pass", result.reason
    checks = {c.name: c.value for c in result.checks}
    assert list(checks) == [
        "rungs_missing",
        "480p.vmaf_mean",
        "480p.vmaf_p5",
        "480p.kbps",
        "360p.vmaf_mean",
        "360p.vmaf_p5",
        "360p.kbps",
        "vmaf_mean",
        "kbps",
    ]  # fmt: skip  (a 480p source: the ladder never upscales)
    assert checks["rungs_missing"] == 0  # the ladder's 480p and 360p, both made
    for rung in ("480p", "360p"):
        assert 40 < (checks[f"{rung}.vmaf_mean"] or 0) <= 100 and 0 < (checks[f"{rung}.vmaf_p5"] or 0) <= 100
        assert (checks[f"{rung}.vmaf_p5"] or 0) <= (checks[f"{rung}.vmaf_mean"] or 0)
        assert 50 < (checks[f"{rung}.kbps"] or 0) < 20_000
    assert checks["vmaf_mean"] == min(checks["480p.vmaf_mean"] or 0, checks["360p.vmaf_mean"] or 0)
    scores = json.loads(Path(result.artifacts[0]).read_text())
    assert {s["rung"] for s in scores} == {"480p", "360p"} and all(s["frames"] == 60 for s in scores)
