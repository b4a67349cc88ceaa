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
import functools
import os
import shutil
import signal
import subprocess
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from reelgate.platform.pipeline.ladder import AUDIO_KBPS, Rung
from reelgate.platform.pipeline.probe import MediaInfo, ToolMissing
from reelgate.platform.pipeline.progress import Progress, ProgressParser, cpu_seconds

THUMBNAIL = "thumbnail.jpg"
THUMB_HEIGHT = 360
PR_SET_PDEATHSIG = 1


class TranscodeFailed(Exception):
    """ffmpeg could not produce the outputs; the message is the reason shown to the user."""


class TranscodeInterrupted(RuntimeError):
    """ffmpeg was stopped by a signal (a killed worker, the OOM killer, an operator): nothing is wrong with
    the video, so this is an infrastructure error and the job runs again, never a `failed` video."""


class StorageFull(OSError):
    """The media store has no room for the outputs (ENOSPC). It passes, so the job waits; the video does
    not fail."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.ENOSPC, reason)


HLS_DIR = "hls"
MASTER = "master.m3u8"
"""The master playlist's name, in the HLS folder."""
SEGMENT_S = 4
# Every encoded rung gets a keyframe on each segment boundary, so the rungs' segments line up and a
# player can switch between them at any boundary.
SEGMENT_KEYFRAMES = f"expr:gte(t,n_forced*{SEGMENT_S})"


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
    hls_dir: str | None = None
    """Where the HLS playlists and segments go; None when the plan writes MP4 only."""
    cwd: str = "."
    """Where the command runs: the output folder, which its output paths are relative to."""


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
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


def ffmpeg_path(configured: str = "pinned") -> str:
    """The ffmpeg the `ffmpeg` setting names: `pinned` is the static ffmpeg 9 of the imageio-ffmpeg
    wheel (the same binary on every machine), `system` the one on PATH (Debian's), else a path."""
    if configured == "pinned":
        try:
            import imageio_ffmpeg

            wheel = Path(imageio_ffmpeg.get_ffmpeg_exe())
        except (ImportError, RuntimeError):
            raise ToolMissing("ffmpeg = 'pinned' needs the imageio-ffmpeg wheel (pip install imageio-ffmpeg)") from None
        # imageio-ffmpeg falls back to IMAGEIO_FFMPEG_EXE or the system's ffmpeg without saying so:
        # pinned means the wheel's own binary, or an error.
        if not wheel.is_relative_to(Path(imageio_ffmpeg.__file__).parent):
            raise ToolMissing(
                f"ffmpeg = 'pinned' found {wheel}, not the imageio-ffmpeg wheel's own binary "
                "(is IMAGEIO_FFMPEG_EXE set, or does the wheel have no binary for this platform?)"
            )
        return str(wheel)
    system = configured in ("system", "")
    path = shutil.which("ffmpeg" if system else configured)
    if not path:
        hint = "apt-get install ffmpeg" if system else "the `ffmpeg` setting names no program"
        raise ToolMissing(f"ffmpeg is not installed ({hint})")
    return path


@functools.cache
def ffmpeg_version(path: str) -> str:
    """`n9.0.2-17-g2a571b6068-20260930` from `ffmpeg version n9.0.2-17-... Copyright ...`; `unknown` when
    it does not say."""
    try:
        first = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    words = first.split()
    return words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else "unknown"


def rendition_file(rung: Rung, mp4: bool) -> str:
    """A rendition's own file in its output folder: its MP4, or with HLS only its variant playlist."""
    return f"{rung.name}.mp4" if mp4 else f"{HLS_DIR}/{rung.name}.m3u8"


def downloadable(file: str) -> bool:
    """Whether a rendition's own file is an MP4 to download (not an HLS-only variant playlist)."""
    return file.endswith(".mp4")


def _slaves(rung: Rung, streams: str, hls: bool, mp4: bool) -> list[str]:
    """The tee muxer's outputs for one rung: its MP4 and/or its HLS variant (fMP4 segments), each
    taking the rung's video stream and its audio stream. Paths are relative to the output folder
    (ffmpeg runs there), so no path needs escaping for tee's option syntax."""
    select = f"select=\\'{streams}\\'"
    found = []
    if mp4:
        found.append(f"[{select}:f=mp4:movflags=+faststart]{rendition_file(rung, True)}")
    if hls:
        variant = ":".join(
            [
                select,
                "f=hls",
                f"hls_time={SEGMENT_S}",
                "hls_playlist_type=vod",
                "hls_segment_type=fmp4",
                "hls_flags=independent_segments",
                f"hls_fmp4_init_filename={rung.name}_init.mp4",
                f"hls_segment_filename={HLS_DIR}/{rung.name}_%03d.m4s",
            ]
        )
        found.append(f"[{variant}]{HLS_DIR}/{rung.name}.m3u8")
    return found


def build(
    source: Path,
    out_dir: Path,
    info: MediaInfo,
    rungs: list[Rung],
    threads: int = 0,
    ffmpeg: str = "pinned",
    hls: bool = False,
    mp4: bool = True,
) -> Plan:
    """The single ffmpeg command for this source and ladder (with `hls`, its HLS folder is made;
    without `mp4`, the renditions are HLS variants only).

    Every rung's video stream and one audio stream go into one output through the tee muxer, which
    hands each file the streams it selects: the audio is encoded once for the whole ladder, not once
    per rung (it was 4 of the ~19 CPU-seconds of a 10 s 1080p source), and the MP4 and HLS copies of
    a rung are the same packets."""
    if not (hls or mp4):
        raise ValueError("a plan writes MP4, HLS or both")
    source = source.resolve()
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
        ffmpeg_path(ffmpeg),
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
        "-i",
        str(source),
        # Two filter threads: the scalers would otherwise share one core with the decoder.
        "-filter_complex_threads",
        "2",
        "-filter_complex",
        ";".join(graph),
    ]
    outputs: list[Output] = []
    slaves: list[str] = []
    # The copied top rung keeps the source's own audio (AAC, or none: can_remux), as it keeps its
    # video; the encoded rungs share one AAC encode.
    audio = info.audio_codec is not None
    copied_audio, encoded_audio = ("a:0", "a:1") if remux else ("", "a:0")
    for v, rung in enumerate(remux):
        cmd += ["-map", "0:v:0", f"-c:v:{v}", "copy"]
        slaves += _slaves(rung, f"v:{v},{copied_audio}" if audio else f"v:{v}", hls, mp4)
        outputs.append(Output(rung.name, rung.width, rung.height, rendition_file(rung, mp4), remuxed=True))
    for i, rung in enumerate(encoded):
        v = len(remux) + i
        cmd += [
            "-map",
            f"[o{i}]",
            f"-c:v:{v}",
            "libx264",
            f"-preset:v:{v}",
            "veryfast",
            f"-crf:v:{v}",
            "23",
            f"-profile:v:{v}",
            "high",
            f"-maxrate:v:{v}",
            f"{rung.max_kbps}k",
            f"-bufsize:v:{v}",
            f"{rung.max_kbps * 2}k",
            f"-g:v:{v}",
            "48",
            *([f"-force_key_frames:v:{v}", SEGMENT_KEYFRAMES] if hls else []),
        ]
        slaves += _slaves(rung, f"v:{v},{encoded_audio}" if audio else f"v:{v}", hls, mp4)
        outputs.append(Output(rung.name, rung.width, rung.height, rendition_file(rung, mp4), remuxed=False))
    if audio and remux:
        cmd += ["-map", "0:a:0", "-c:a:0", "copy"]
    if audio and encoded:
        a = 1 if remux else 0
        cmd += ["-map", "0:a:0", f"-c:a:{a}", "aac", f"-b:a:{a}", f"{AUDIO_KBPS}k", f"-ac:a:{a}", "2"]
    # Global headers: an MP4 needs the codec's configuration up front, and tee cannot ask for it.
    cmd += ["-flags", "+global_header", "-f", "tee", "|".join(slaves)]
    cmd += ["-map", "[thumb]", "-frames:v", "1", "-q:v", "3", "-update", "1", THUMBNAIL]
    outputs.sort(key=lambda o: -o.height * o.width)
    hls_dir = out_dir / HLS_DIR if hls else None
    if hls_dir:
        hls_dir.mkdir(parents=True, exist_ok=True)
    return Plan(
        command=cmd,
        outputs=outputs,
        thumbnail=THUMBNAIL,
        hls_dir=str(hls_dir) if hls_dir else None,
        cwd=str(out_dir),
    )


class Result(msgspec.Struct):
    cpu_seconds: float
    stderr_tail: list[str]


async def run(
    plan: Plan, on_progress: Callable[[Progress], Awaitable[None]], timeout_s: float, nice: int = 0
) -> Result:
    """Run the plan's ffmpeg, `nice` steps below the worker's priority, reporting progress; raise
    TranscodeFailed with a reason."""

    def start() -> None:  # pragma: no cover - runs in the child between fork and exec
        die_with_parent()
        os.nice(nice)

    proc = await asyncio.create_subprocess_exec(
        *plan.command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=start,
        cwd=plan.cwd,
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
    # ffmpeg 9 prints `bench:` before the encoders' closing statistics, which can be more lines than
    # the tail keeps: hold it apart.
    bench: list[str] = []

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            if "bench: utime=" in line:
                bench.append(line)
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
        code = proc.returncode or 0
        if code < 0 and not errors:
            raise TranscodeInterrupted(f"ffmpeg was stopped by signal {-code}; the job runs again")
        first = errors[0][:300] if errors else f"ffmpeg exited with status {proc.returncode}"
        raise TranscodeFailed(f"The video could not be decoded: {first}")
    if plan.hls_dir:
        write_master(Path(plan.hls_dir), plan.outputs)
    return Result(cpu_seconds=cpu_seconds(bench or lines), stderr_tail=lines)


def codecs(init_segment: bytes) -> str:
    """The RFC 6381 codecs of an fMP4 init segment: `avc1.PPCCLL` from its avcC box (profile,
    constraint flags, level), and `mp4a.40.2` (AAC-LC) when it has an audio track."""
    found = []
    at = init_segment.find(b"avcC")
    if at >= 0:
        profile, constraints, level = init_segment[at + 5 : at + 8]
        found.append(f"avc1.{profile:02x}{constraints:02x}{level:02x}")
    if b"mp4a" in init_segment:
        found.append("mp4a.40.2")
    return ",".join(found)


def _segments(playlist: Path) -> list[tuple[float, int]]:
    """(seconds, bytes) of each segment a variant playlist lists."""
    found, seconds = [], 0.0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            seconds = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#"):
            found.append((seconds, (playlist.parent / line).stat().st_size))
    return found


def variant_bytes(hls_dir: Path, name: str) -> int:
    """One HLS variant's bytes: its playlist, init segment and media segments."""
    playlist = hls_dir / f"{name}.m3u8"
    init = hls_dir / f"{name}_init.mp4"
    return playlist.stat().st_size + init.stat().st_size + sum(b for _, b in _segments(playlist))


def write_master(hls_dir: Path, outputs: list[Output]) -> None:
    """The master playlist over the variants ffmpeg wrote, largest first. BANDWIDTH is the peak
    segment's bitrate and AVERAGE-BANDWIDTH the whole variant's, as the HLS spec asks."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for out in outputs:
        playlist = hls_dir / f"{out.name}.m3u8"
        segments = _segments(playlist)
        init = (hls_dir / f"{out.name}_init.mp4").read_bytes()
        total_s = sum(s for s, _ in segments) or 1.0
        peak = max((b * 8 / s for s, b in segments if s > 0), default=0.0)
        average = sum(b for _, b in segments) * 8 / total_s
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={int(peak)},AVERAGE-BANDWIDTH={int(average)},"
            f'RESOLUTION={out.width}x{out.height},CODECS="{codecs(init)}"',
            playlist.name,
        ]
    (hls_dir / MASTER).write_text("\n".join(lines) + "\n")
