"""The VMAF gate's arithmetic, its config, and its refusal to pass without a real libvmaf."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec
import pytest

from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.vmaf import DEFAULT_CLIPS, NoVmaf, Score, VmafConfig, VmafGate, percentile, summarize, vmaf_ffmpeg


def _score(clip: str, rung: str, height: int, mean: float, p5: float, kbps: float) -> Score:
    return Score(clip=clip, rung=rung, width=height * 16 // 9, height=height, vmaf_mean=mean, vmaf_p5=p5,
                 frames=120, kbps=kbps)  # fmt: skip


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.05) == pytest.approx(12.0)
    assert percentile([7.0], 0.05) == 7.0 and percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_checks_per_rung_and_for_the_ladder() -> None:
    scores = [
        _score("grain", "720p", 720, 90.0, 80.0, 2000), _score("zoom", "720p", 720, 94.0, 70.0, 3000),
        _score("grain", "360p", 360, 70.0, 60.0, 500), _score("zoom", "360p", 360, 80.0, 75.0, 700),
    ]  # fmt: skip
    checks = {c.name: c.value for c in summarize(scores)}
    assert list(checks)[:3] == ["720p.vmaf_mean", "720p.vmaf_p5", "720p.kbps"]  # the largest rung first
    assert checks["720p.vmaf_mean"] == 92.0 and checks["720p.vmaf_p5"] == 70.0 and checks["720p.kbps"] == 2500
    assert checks["360p.vmaf_mean"] == 75.0 and checks["360p.kbps"] == 600
    assert checks["vmaf_mean"] == 75.0  # the worst rung
    assert checks["kbps"] == 3100  # the ladder's bits, added up


def test_config_is_checked() -> None:
    with pytest.raises(msgspec.ValidationError, match="seconds from 1 to 30"):
        msgspec.convert({"seconds": 90}, VmafConfig)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"clipz": []}, VmafConfig)
    assert [c.name for c in msgspec.convert({}, VmafConfig).clips] == ["grain", "zoom", "gradients"]


def test_an_ffmpeg_without_libvmaf_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """Debian's ffmpeg 5.1 has no libvmaf: the gate says so and measures nothing."""
    result = run_gate_sync(VmafGate, {"ffmpeg": "/usr/bin/ffmpeg"}, "http://127.0.0.1:9", tmp_path, api_key="rg_x")
    assert result.verdict == "error" and "has no libvmaf filter" in result.reason
    missing = run_gate_sync(VmafGate, {"ffmpeg": "/nonexistent/ffmpeg"}, "http://127.0.0.1:9", tmp_path, api_key="rg_x")
    assert missing.verdict == "error" and "does not exist" in missing.reason


def test_the_default_clips_are_the_same_pictures_every_run() -> None:
    """Candidate and live must be scored on the same pictures (ffmpeg's `gradients` is random unless told)."""
    try:
        ffmpeg = vmaf_ffmpeg("")
    except NoVmaf:  # a release's candidate build has no `vmaf` extra; Debian's ffmpeg has the same sources
        ffmpeg = "ffmpeg"
    for clip in DEFAULT_CLIPS:
        graph = clip.source.replace("{size}", "320x180")
        runs = [
            subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", graph, "-frames:v", "3", "-f", "framemd5", "-"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
            for _ in range(2)
        ]  # fmt: skip
        assert runs[0] == runs[1] and runs[0].count("\n0,") == 3, clip.name


def test_the_default_clips_reach_the_top_rung_of_the_default_ladder() -> None:
    """The clips were 1280x720, so the platform (which never upscales) made no 1080p rendition to score."""
    from reelgate.platform.settings import Settings

    config = VmafConfig()
    assert int(config.size.split("x")[1]) >= max(Settings().ladder) and config.rungs == sorted(Settings().ladder)[::-1]


def test_a_dropped_rung_is_a_failed_check_naming_it() -> None:
    from reelgate.plugins.vmaf import missing_rungs

    config = VmafConfig(clips=DEFAULT_CLIPS[:2])
    whole = [_score(clip.name, f"{h}p", h, 95, 90, 1000) for clip in config.clips for h in (1080, 720, 480, 360)]
    assert missing_rungs(whole, config).verdict == "pass"
    dropped = [s for s in whole if not (s.rung == "1080p" or (s.rung == "360p" and s.clip == "zoom"))]
    check = missing_rungs(dropped, config)
    assert check.verdict == "fail" and check.value == 2
    assert check.note == "no rendition at 1080p, 360p (expected 1080p, 720p, 480p, 360p)"
    small = VmafConfig(size="854x480")  # rungs above the clips' height are not expected
    made = [_score("grain", "480p", 480, 90, 80, 900), _score("grain", "360p", 360, 90, 80, 500)]
    assert missing_rungs(made, msgspec.structs.replace(small, clips=DEFAULT_CLIPS[:1])).verdict == "pass"
    with pytest.raises(ValueError, match="expected a size such as 1920x1080"):
        VmafConfig(size="1080p")
