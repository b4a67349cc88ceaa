"""ffprobe: is this upload a video we can process, and what does it hold?

Only what ffprobe can see from the container is checked here. Damage that
only decoding reveals is caught by the transcode itself (`-xerror`).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import msgspec

from reelgate.platform.pipeline.ladder import displayed_size

PROBE_TIMEOUT_S = 30
# Demuxers that hold a single picture, not a video.
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe", "apng")


class InvalidMedia(Exception):
    """The file is not a video we can process; the message is a plain sentence for the user."""


class ToolMissing(Exception):
    """ffmpeg or ffprobe is not installed."""


class _Stream(msgspec.Struct):
    codec_type: str = ""
    codec_name: str = ""
    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    bit_rate: str = ""
    nb_frames: str = ""
    tags: dict[str, str] = {}
    side_data_list: list[dict[str, object]] = []


class _Format(msgspec.Struct):
    format_name: str = ""
    duration: str = ""
    bit_rate: str = ""


class _Probe(msgspec.Struct):
    streams: list[_Stream] = []
    format: _Format | None = None


class MediaInfo(msgspec.Struct):
    duration_s: float
    width: int
    """Displayed width, after rotation."""
    height: int
    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    bit_rate: int
    format_name: str


def ffprobe_path() -> str:
    path = shutil.which("ffprobe")
    if not path:
        raise ToolMissing("ffprobe is not installed (apt-get install ffmpeg)")
    return path


def _rotation(stream: _Stream) -> float:
    for side in stream.side_data_list:
        if "rotation" in side:
            try:
                return float(side["rotation"])  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return 0.0
    try:
        return float(stream.tags.get("rotate", "0"))
    except ValueError:
        return 0.0


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return 0.0


async def probe(path: Path) -> MediaInfo:
    """Describe `path`, or raise InvalidMedia saying in one sentence why it is not a usable video."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe_path(),
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise InvalidMedia("The file could not be read as a video in time.") from None
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        hint = detail[-1].split(": ", 1)[-1] if detail else "unknown format"
        raise InvalidMedia(f"The file is not a readable video ({hint}).")
    info = msgspec.json.decode(out, type=_Probe)
    fmt = info.format or _Format()
    video = next((s for s in info.streams if s.codec_type == "video"), None)
    audio = next((s for s in info.streams if s.codec_type == "audio"), None)
    if video is None:
        kind = "audio only" if audio else "no video stream"
        raise InvalidMedia(f"The file has no video to process ({kind}).")
    if any(name in fmt.format_name.split(",") for name in IMAGE_FORMATS) or video.nb_frames == "1":
        raise InvalidMedia("The file is a still image, not a video.")
    if not video.codec_name or video.codec_name == "none":
        raise InvalidMedia("The file's video codec is not supported.")
    if video.width <= 0 or video.height <= 0:
        raise InvalidMedia("The file's video has no picture size.")
    duration = _float(fmt.duration)
    if duration <= 0:
        raise InvalidMedia("The file's video has no duration.")
    width, height = displayed_size(video.width, video.height, _rotation(video))
    return MediaInfo(
        duration_s=duration,
        width=width,
        height=height,
        video_codec=video.codec_name,
        pix_fmt=video.pix_fmt,
        audio_codec=audio.codec_name if audio else None,
        bit_rate=int(_float(video.bit_rate) or _float(fmt.bit_rate)),
        format_name=fmt.format_name,
    )
