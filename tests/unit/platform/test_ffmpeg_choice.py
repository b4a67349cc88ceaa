"""Which ffmpeg transcodes: the `ffmpeg` setting, and the version /health/version reports."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from reelgate.platform.pipeline import ladder
from reelgate.platform.pipeline.probe import ToolMissing, probe
from reelgate.platform.pipeline.progress import Progress
from reelgate.platform.pipeline.transcode import Plan, build, ffmpeg_path, ffmpeg_version, run
from tests.media import make_clip


def test_system_is_the_one_on_path() -> None:
    assert ffmpeg_path("system") == shutil.which("ffmpeg")
    # Debian 12's is 5.1.x-0+deb12u1, Ubuntu's 6.1.x-...ubuntu...: a version, whatever the distribution.
    assert re.match(r"\d+\.\d+", ffmpeg_version(ffmpeg_path("system")))


def test_pinned_is_the_default_and_the_wheels_static_ffmpeg_9() -> None:
    path = ffmpeg_path()
    assert path == ffmpeg_path("pinned")
    assert "imageio_ffmpeg" in path
    assert ffmpeg_version(path).startswith("n9.")  # n9.0.2-17-g2a571b6068-20260930


def test_pinned_refuses_the_fallback_imageio_would_take(monkeypatch: pytest.MonkeyPatch) -> None:
    """imageio-ffmpeg answers IMAGEIO_FFMPEG_EXE (or the system's ffmpeg) when it has no binary of its own."""
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", "/usr/bin/ffmpeg")
    with pytest.raises(ToolMissing, match="not the imageio-ffmpeg wheel's own binary"):
        ffmpeg_path("pinned")


def test_a_path_that_is_no_program_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match="names no program"):
        ffmpeg_path(str(tmp_path / "nope"))
    script = tmp_path / "not-ffmpeg"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    assert ffmpeg_version(str(script)) == "unknown"


def test_the_pinned_ffmpeg_runs_the_one_pass_plan(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mp4", size="640x360", seconds=1)
    info = asyncio.run(probe(source))
    out = tmp_path / "out"
    out.mkdir()
    plan = build(source, out, info, ladder.plan(info.width, info.height, [360, 240]), ffmpeg="pinned")
    assert "imageio_ffmpeg" in plan.command[0]

    async def ignore(_progress: Progress) -> None:
        return None

    result = asyncio.run(run(plan, ignore, timeout_s=60))
    assert result.cpu_seconds > 0
    assert sorted(p.name for p in out.iterdir()) == ["240p.mp4", "360p.mp4", "thumbnail.jpg"]


def test_cpu_seconds_survive_the_encoders_closing_statistics(tmp_path: Path) -> None:
    """ffmpeg 9 prints `bench:` before each encoder's statistics; with five rungs those outrun the tail."""
    source = make_clip(tmp_path / "in.mp4", size="640x360", seconds=1)
    info = asyncio.run(probe(source))
    out = tmp_path / "out"
    out.mkdir()
    rungs = ladder.plan(info.width, info.height, [360, 288, 240, 180, 144])
    plan = build(source, out, info, rungs, hls=True)

    async def ignore(_progress: Progress) -> None:
        return None

    result = asyncio.run(run(plan, ignore, timeout_s=60))
    assert not any("bench: utime" in line for line in result.stderr_tail)  # the line is past the tail
    assert result.cpu_seconds > 0


def test_ffmpeg_runs_below_the_workers_priority(tmp_path: Path) -> None:
    """`transcode_nice`: the encoder yields the CPU to the API processes on the same machine."""
    told = tmp_path / "niceness"
    plan = Plan(command=["sh", "-c", f"nice > {told}"], outputs=[], thumbnail="thumbnail.jpg")

    async def ignore(_progress: Progress) -> None:
        return None

    asyncio.run(run(plan, ignore, timeout_s=10, nice=7))
    assert int(told.read_text()) == os.nice(0) + 7
    asyncio.run(run(plan, ignore, timeout_s=10))
    assert int(told.read_text()) == os.nice(0)


def test_an_ffmpeg_stopped_by_a_signal_is_retried_not_a_failed_video(tmp_path: Path) -> None:
    """A worker killed mid-job once saw its ffmpeg end with -9 and recorded "The video could not be decoded":
    a signal says nothing about the video, so the job runs again."""
    from reelgate.platform.pipeline.transcode import TranscodeFailed, TranscodeInterrupted

    async def ignore(_progress: Progress) -> None:
        return None

    killed = Plan(command=["sh", "-c", "kill -9 $$"], outputs=[], thumbnail="thumbnail.jpg")
    with pytest.raises(TranscodeInterrupted, match="stopped by signal 9"):
        asyncio.run(run(killed, ignore, timeout_s=10))
    broken = Plan(command=["sh", "-c", "echo '[error] Invalid data found' >&2; exit 1"], outputs=[],
                  thumbnail="thumbnail.jpg")  # fmt: skip
    with pytest.raises(TranscodeFailed, match="could not be decoded"):
        asyncio.run(run(broken, ignore, timeout_s=10))
