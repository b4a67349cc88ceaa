"""Shared helpers: generated media and polling with a deadline."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reelgate.contract.media import test_clip_command

# The helpers reelgate ships for third-party gate authors, used by our own tests too.
pytest_plugins = ["reelgate.gates.testing"]

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail the test naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_clip(
    path: Path,
    size: str = "320x240",
    seconds: float = 2,
    vcodec: str = "libx264",
    audio: bool = True,
    extra: tuple[str, ...] = (),
) -> Path:
    """The shared test clip (`reelgate.contract.media`), with a tone; `-movflags +faststart` style via `extra`."""
    subprocess.run(test_clip_command(path, seconds, size, audio=audio, vcodec=vcodec, extra=extra), check=True)
    return path


def ffprobe(path: Path | str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed; run scripts/bootstrap")
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """2 s, 320x240, H.264 + AAC."""
    return make_clip(media_dir / "clip.mp4")
