"""The test clip every room makes the same way: the gates upload one, the tests and the benchmarks many.

One recipe, ffmpeg's own sources: the `testsrc2` pattern at 25 fps and, with `audio`, a 440 Hz tone; H.264 in
yuv420p (what every player and the platform's probe accept). A `tag` is written as metadata: the platform
reuses the renditions of a file it has seen, and a new tag makes the same picture a new file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def clip_command(
    path: Path,
    seconds: float = 1,
    size: str = "320x240",
    *,
    audio: bool = False,
    tag: str = "",
    vcodec: str = "libx264",
    ffmpeg: str = "ffmpeg",
    extra: Sequence[str] = (),
) -> list[str]:
    """ffmpeg's argv that writes the clip to `path` (`extra` goes just before it, e.g. `-movflags +faststart`)."""
    args = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", f"{seconds:g}", "-c:v", vcodec, "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    if tag:
        args += ["-metadata", f"comment={tag}"]
    return [*args, *extra, str(path)]
