"""Generated media for the tests: the shared test clip, ffmpeg and ffprobe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reelgate.contract.media import clip_command


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
    subprocess.run(clip_command(path, seconds, size, audio=audio, vcodec=vcodec, extra=extra), check=True)
    return path


def ffprobe(path: Path | str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)
