"""One ffmpeg process decodes the source once and writes every rendition and the thumbnail.

The filter graph scales the decoded picture down a cascade of rungs (each from
the next larger one) and splits off every rung and the thumbnail. When the
source already conforms to the top rung (H.264 yuv420p, AAC or no audio, the
rung's size, within its bitrate), that rung is copied
(remuxed) instead of re-encoded. `-xerror` turns decode damage into a
failure with a reason; `-progress pipe:1` is read concurrently with stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import shutil
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from reelgate.platform.ladder import AUDIO_KBPS, Rung
from reelgate.platform.probe import MediaInfo, ToolMissing
from reelgate.platform.progress import Progress, ProgressParser, cpu_seconds

THUMBNAIL = "thumbnail.jpg"
THUMB_HEIGHT = 360
PR_SET_PDEATHSIG = 1


class TranscodeFailed(Exception):
    """ffmpeg could not produce the outputs; the message is the reason shown to the user."""


class StorageFull(OSError):
    """The media store has no room for the outputs (ENOSPC). It passes, so the job waits; the video does
    not fail."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.ENOSPC, reason)


class Output(msgspec.Struct):
    name: str
    width: int
    height: int
    file: str
    remuxed: bool


class Plan(msgspec.Struct):
    command: list[str]
    outputs: list[Output]
    thumbnail: str


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """ffmpeg gets SIGKILL when its worker dies, so a killed worker leaves no orphan encoder."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def can_remux(info: MediaInfo, rung: Rung) -> bool:
    return (
        info.video_codec == "h264"
        and info.pix_fmt == "yuv420p"
        and info.audio_codec in (None, "aac")
        and (info.width, info.height) == (rung.width, rung.height)
        and 0 < info.bit_rate <= rung.max_kbps * 1000 * 1.1
        and info.format_name.startswith("mov,mp4")
    )


def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        raise ToolMissing("ffmpeg is not installed (apt-get install ffmpeg)")
    return path


def build(source: Path, out_dir: Path, info: MediaInfo, rungs: list[Rung], threads: int = 0) -> Plan:
    """The single ffmpeg command for this source and ladder."""
    remux = [r for r in rungs[:1] if can_remux(info, r)]
    encoded = [r for r in rungs if r not in remux]  # largest first
    # A cascade: each rung is scaled from the next larger one, not from the source, so
    # the big frame is scaled once; the smallest branch also feeds the thumbnail.
    graph, previous = [], "[0:v:0]"
    for i, rung in enumerate(encoded):
        graph.append(
            f"{previous}scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p,split=2[o{i}][c{i}]"
        )
        previous = f"[c{i}]"
    thumb_height = min(THUMB_HEIGHT, encoded[-1].height if encoded else info.height)
    graph.append(f"{previous}thumbnail=30,scale=-2:{thumb_height},setsar=1[thumb]")

    cmd = [
        ffmpeg_path(),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-xerror",
        "-benchmark",
        "-loglevel",
        "level+info",
        "-progress",
        "pipe:1",
        "-nostats",
        "-threads",
        str(threads),
        # Two filter threads: the scalers would otherwise share one core with the decoder.
        "-i",
        str(source),
        "-filter_complex_threads",
        "2",
        "-filter_complex",
        ";".join(graph),
    ]
    outputs: list[Output] = []
    for rung in remux:
        file = f"{rung.name}.mp4"
        cmd += [
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-dn",
            "-sn",
            str(out_dir / file),
        ]
        outputs.append(Output(name=rung.name, width=rung.width, height=rung.height, file=file, remuxed=True))
    for i, rung in enumerate(encoded):
        file = f"{rung.name}.mp4"
        cmd += [
            "-map",
            f"[o{i}]",
            "-map",
            "0:a:0?",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-profile:v",
            "high",
            "-maxrate",
            f"{rung.max_kbps}k",
            "-bufsize",
            f"{rung.max_kbps * 2}k",
            "-g",
            "48",
            "-c:a",
            "aac",
            "-b:a",
            f"{AUDIO_KBPS}k",
            "-ac",
            "2",
            "-movflags",
            "+faststart",
            "-dn",
            "-sn",
            str(out_dir / file),
        ]
        outputs.append(Output(name=rung.name, width=rung.width, height=rung.height, file=file, remuxed=False))
    cmd += ["-map", "[thumb]", "-frames:v", "1", "-q:v", "3", "-update", "1", str(out_dir / THUMBNAIL)]
    outputs.sort(key=lambda o: -o.height * o.width)
    return Plan(command=cmd, outputs=outputs, thumbnail=THUMBNAIL)


class Result(msgspec.Struct):
    cpu_seconds: float
    stderr_tail: list[str]


async def run(plan: Plan, on_progress: Callable[[Progress], Awaitable[None]], timeout_s: float) -> Result:
    """Run the plan's ffmpeg, reporting progress; raise TranscodeFailed with a reason."""
    proc = await asyncio.create_subprocess_exec(
        *plan.command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    # ffmpeg at info level prints a line per stream; the tail holds the errors and `bench:`.
    tail: deque[str] = deque(maxlen=60)

    async def read_progress() -> None:
        parser = ProgressParser()
        assert proc.stdout is not None
        async for raw in proc.stdout:
            update = parser.feed(raw.decode(errors="replace"))
            if update is not None:
                await on_progress(update)

    errors: list[str] = []

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            if line.startswith(("[error]", "[fatal]")) and len(errors) < 5:
                errors.append(line.split("] ", 1)[-1].strip())

    try:
        await asyncio.wait_for(asyncio.gather(read_progress(), read_stderr(), proc.wait()), timeout_s)
    except TimeoutError:
        raise TranscodeFailed(f"Processing took longer than {timeout_s:.0f} seconds.") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    lines = list(tail)
    if proc.returncode != 0:
        if any("No space left on device" in line or "Disk quota exceeded" in line for line in lines):
            raise StorageFull("ffmpeg ran out of room in the media store")
        first = errors[0][:300] if errors else f"ffmpeg exited with status {proc.returncode}"
        raise TranscodeFailed(f"The video could not be decoded: {first}")
    return Result(cpu_seconds=cpu_seconds(lines), stderr_tail=lines)
