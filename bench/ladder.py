"""One-pass ladder vs naive (one ffmpeg per rung, same rungs and encoder settings, plus one for the thumbnail)."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.common import Result, ffmpeg, save, timed
from reelgate.platform import ladder, transcode
from reelgate.platform.probe import probe

GOALS = {"conforming": 1.6, "non-conforming": 1.3, "non-conforming-hevc": 1.3}
# MPEG-4 Part 2 is cheap to decode, so the one pass saves little there (the four extra decodes);
# HEVC 8 Mbit/s is what phones record, non-conforming by codec and bitrate, and dearer to decode.
SOURCES = {
    "conforming": [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-maxrate",
        "4500k",
        "-bufsize",
        "9000k",
    ],
    "non-conforming": ["-c:v", "mpeg4", "-q:v", "4"],
    "non-conforming-hevc": [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "8M",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "log-level=error",
    ],
}


def naive_commands(source: Path, out: Path, rungs: list[ladder.Rung], info_height: int) -> list[list[str]]:
    """What a pipeline without the one-pass graph runs: each output decodes the source again."""
    base = ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(source)]
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
                str(out / f"naive-{rung.name}.mp4"),
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
            str(out / "naive-thumb.jpg"),
        ]
    )
    return commands


def make_source(folder: Path, kind: str, seconds: int) -> Path:
    path = folder / f"{kind}.mp4"
    video = SOURCES[kind]
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        str(seconds),
        *video,
        "-c:a",
        "aac",
        "-shortest",
        str(path),
    )
    return path


def run(seconds: int = 20, repeats: int = 5) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind, goal in GOALS.items():
            source = make_source(folder, kind, seconds)
            info = asyncio.run(probe(source))
            rungs = ladder.plan(info.width, info.height, [1080, 720, 480, 360])
            out = folder / f"one-{kind}"
            out.mkdir()
            plan = transcode.build(source, out, info, rungs)
            # Interleaved repeats, median of each: this machine's timings drift by 10 % between runs.
            one_runs, naive_runs = [], []
            for _ in range(repeats):
                one_runs.append(timed(plan.command))
                naive_runs.append(sum(timed(cmd) for cmd in naive_commands(source, folder, rungs, info.height)))
            one_pass, naive = statistics.median(one_runs), statistics.median(naive_runs)
            results.append(
                save(
                    Result(
                        name=f"ladder-{kind}",
                        metric="one-pass wall time",
                        value=one_pass,
                        baseline_metric="naive (one ffmpeg per rung, plus one for the thumbnail)",
                        baseline=naive,
                        ratio=naive / one_pass,
                        goal=f">= {goal}x",
                        met=naive / one_pass >= goal,
                        unit="s",
                        details={
                            "source": f"{seconds} s 1920x1080 {info.video_codec}",
                            "remuxed": [o.name for o in plan.outputs if o.remuxed],
                            "one_pass_runs_s": [round(x, 3) for x in one_runs],
                            "naive_runs_s": [round(x, 3) for x in naive_runs],
                            "rungs": [r.name for r in rungs],
                        },
                    )
                )
            )
    return results
