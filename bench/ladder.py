"""Processing time of the one-pass ladder against the old way, at equal quality.

The old way is what a pipeline without the one-pass graph runs: Debian's ffmpeg, one process per
rung plus one for the thumbnail, each decoding the source again, with the same encoder settings
(x264 veryfast CRF 23 under each rung's cap), writing MP4 only. The new way is the platform's own
plan (`transcode.build`) as it runs by default: the pinned ffmpeg 9 of the imageio-ffmpeg wheel,
writing the MP4s and their HLS variants.

Each source gets three rows:
- `ladder-<source>`: new against old, every change at once;
- `ladder-<source>-same-binary`: the one pass against one process per rung, both on Debian's ffmpeg and
  MP4 only, so the pipeline's gain shows apart from the newer ffmpeg's;
- `hls-<source>`: the one pass with HLS against the same pass without it (what HLS costs), with the
  old way's time beside it.

Equal quality is checked, not assumed: every rung of both sides is scored with libvmaf against the
source scaled to the rung's size, and the sides must agree within 0.5 VMAF per rung and 5 % in total
size. Repeats are interleaved and the medians compared: this machine's timings drift by 10 % between
runs.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.common import Result, ffmpeg, save, timed
from reelgate.platform.pipeline import ladder, transcode
from reelgate.platform.pipeline.probe import probe
from reelgate.plugins.vmaf import frame_scores, score_command

DEBIAN = "/usr/bin/ffmpeg"
VMAF_TOLERANCE = 0.5
SIZE_TOLERANCE = 0.05
GOALS = {"conforming": 1.6, "phone-h264": 1.6, "phone-hevc": 1.6}
# A phone records grain and motion at 8 Mbit/s or more: above the 1080p rung's 5 Mbit/s cap, so its top
# rung is re-encoded. The conforming source fits the top rung, which is remuxed.
PICTURE = {
    "conforming": "testsrc2=size=1920x1080:rate=30",
    "phone-h264": "testsrc2=size=1920x1080:rate=30,noise=alls=8:allf=t+u",
    "phone-hevc": "testsrc2=size=1920x1080:rate=30,noise=alls=8:allf=t+u",
}
SOURCES = {
    "conforming": ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-maxrate", "4500k"]
    + ["-bufsize", "9000k"],
    "phone-h264": ["-c:v", "libx264", "-preset", "fast", "-pix_fmt", "yuv420p", "-b:v", "8M", "-maxrate", "8M"]
    + ["-bufsize", "16M"],
    "phone-hevc": ["-c:v", "libx265", "-preset", "fast", "-pix_fmt", "yuv420p", "-b:v", "8M", "-tag:v", "hvc1"]
    + ["-x265-params", "log-level=error"],
}


def naive_commands(
    source: Path, out: Path, rungs: list[ladder.Rung], info_height: int, binary: str = DEBIAN
) -> list[list[str]]:
    """The old way: each output decodes the source again."""
    base = [binary, "-v", "error", "-y", "-nostdin", "-i", str(source)]
    commands = []
    for rung in rungs:
        commands.append(
            [
                *base,
                "-vf",
                f"scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p",
                "-map",
                "0:v:0",
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
                f"{ladder.AUDIO_KBPS}k",
                "-ac",
                "2",
                "-movflags",
                "+faststart",
                str(out / f"{rung.name}.mp4"),
            ]
        )
    commands.append(
        [
            *base,
            "-vf",
            f"thumbnail=30,scale=-2:{min(360, info_height)}",
            "-frames:v",
            "1",
            "-q:v",
            "3",
            "-update",
            "1",
            str(out / "thumbnail.jpg"),
        ]
    )
    return commands


def make_source(folder: Path, kind: str, seconds: int) -> Path:
    path = folder / f"{kind}.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        PICTURE[kind],
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        str(seconds),
        *SOURCES[kind],
        "-c:a",
        "aac",
        "-shortest",
        str(path),
    )
    return path


def quality(source: Path, folder: Path, rungs: list[ladder.Rung], scorer: str) -> dict[str, dict[str, float]]:
    """VMAF mean and bytes of each rung a side wrote into `folder`."""
    found = {}
    for rung in rungs:
        file = folder / f"{rung.name}.mp4"
        log = folder / f"{rung.name}.vmaf.json"
        scored = subprocess.run(
            score_command(scorer, file, source, rung.width, rung.height, log, threads=2), capture_output=True, text=True
        )
        frames = frame_scores(log, scored.returncode, scored.stderr[-500:])
        found[rung.name] = {"vmaf": round(statistics.fmean(frames), 2), "bytes": file.stat().st_size}
    return found


def equal_quality(new: dict[str, dict[str, float]], old: dict[str, dict[str, float]]) -> tuple[bool, dict[str, float]]:
    worst_vmaf = max(abs(new[r]["vmaf"] - old[r]["vmaf"]) for r in old)
    size_change = sum(new[r]["bytes"] for r in new) / sum(old[r]["bytes"] for r in old) - 1
    return worst_vmaf <= VMAF_TOLERANCE and abs(size_change) <= SIZE_TOLERANCE, {
        "worst_vmaf_difference": round(worst_vmaf, 2),
        "size_change": round(size_change, 4),
    }


def compare(kind: str, seconds: int, repeats: int, folder: Path) -> list[Result]:
    source = make_source(folder, kind, seconds)
    info = asyncio.run(probe(source))
    rungs = ladder.plan(info.width, info.height, [1080, 720, 480, 360])
    pinned = transcode.ffmpeg_path("pinned")
    sides = {name: folder / f"{kind}-{name}" for name in ("old", "one-debian", "new-mp4", "new")}
    for path in sides.values():
        path.mkdir()
    commands = {
        "old": naive_commands(source, sides["old"], rungs, info.height),
        "one-debian": [transcode.build(source, sides["one-debian"], info, rungs, ffmpeg=DEBIAN).command],
        "new-mp4": [transcode.build(source, sides["new-mp4"], info, rungs).command],
        "new": [transcode.build(source, sides["new"], info, rungs, hls=True).command],
    }
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):  # interleaved
        for name, cmds in commands.items():
            runs[name].append(sum(timed(cmd, cwd=sides[name]) for cmd in cmds))  # a plan's paths are relative
    median = {name: statistics.median(times) for name, times in runs.items()}
    plan = transcode.build(source, folder, info, rungs)
    encoded = [r for r in rungs if not any(o.remuxed and o.name == r.name for o in plan.outputs)]
    scores = {name: quality(source, sides[name], encoded, pinned) for name in ("old", "one-debian", "new")}
    common = {
        "source": f"{seconds} s 1920x1080 {info.video_codec} at {info.bit_rate / 1e6:.1f} Mbit/s",
        "rungs": [r.name for r in rungs],
        "remuxed": [o.name for o in plan.outputs if o.remuxed],
        "hls_bytes": sum(f.stat().st_size for f in (sides["new"] / transcode.HLS_DIR).iterdir()),
        "runs_s": {name: [round(x, 3) for x in times] for name, times in runs.items()},
        "vmaf_and_bytes": scores,
        "ffmpeg": {"old": transcode.ffmpeg_version(DEBIAN), "new": transcode.ffmpeg_version(pinned)},
    }
    goal = GOALS[kind]
    results = []
    for name, baseline_side, side, metric, baseline_metric in (
        (
            f"ladder-{kind}",
            "old",
            "new",
            "one pass on the pinned ffmpeg 9, MP4 and HLS",
            "the old way (Debian's ffmpeg, one process per rung, plus one for the thumbnail)",
        ),
        (
            f"ladder-{kind}-same-binary",
            "old",
            "one-debian",
            "one pass on Debian's ffmpeg",
            "one process per rung on the same ffmpeg",
        ),
    ):
        same, differences = equal_quality(scores[side], scores[baseline_side])
        ratio = median[baseline_side] / median[side]
        results.append(
            save(
                Result(
                    name=name,
                    metric=metric,
                    value=median[side],
                    baseline_metric=baseline_metric,
                    baseline=median[baseline_side],
                    ratio=ratio,
                    goal=f">= {goal}x, VMAF within {VMAF_TOLERANCE} per rung, size within 5 %",
                    met=ratio >= goal and same,
                    unit="s",
                    details={**common, **differences, "equal_quality": same},
                )
            )
        )
    with_hls, without = median["new"], median["new-mp4"]
    results.append(
        save(
            Result(
                name=f"hls-{kind}",
                metric="one pass writing MP4 and HLS",
                value=with_hls,
                baseline_metric="the same pass writing MP4 only",
                baseline=without,
                ratio=with_hls / without,
                goal="<= 1.05x (HLS is packaging, not encoding)",
                met=with_hls / without <= 1.05,
                unit="s",
                details={
                    **common,
                    "old_way_s": round(median["old"], 3),
                    "old_way_ratio": round(median["old"] / with_hls, 2),
                },
            )
        )
    )
    return results


def run(seconds: int = 10, repeats: int = 3) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in GOALS:
            folder = Path(tmp) / kind
            folder.mkdir()
            results += compare(kind, seconds, repeats, folder)
    return results
