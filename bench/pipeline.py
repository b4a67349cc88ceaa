"""Pipeline wall time (upload accepted -> ready) vs the bare ffmpeg command it runs, on the same source."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result, ffmpeg, save, tenant_key, throwaway_stack, timed
from reelgate.platform.pipeline import ladder, transcode
from reelgate.platform.pipeline.probe import probe


def run(seconds: int = 20, repeats: int = 3) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, throwaway_stack() as (env, router):
        folder = Path(tmp)
        source = folder / "source.mp4"
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
            "-c:v",
            "mpeg4",
            "-q:v",
            "4",
            "-c:a",
            "aac",
            "-shortest",
            str(source),
        )
        key = tenant_key(env, "bench-pipeline")
        info = asyncio.run(probe(source))
        plan_rungs = ladder.plan(info.width, info.height, [1080, 720, 480, 360])
        pipeline_runs, bare_runs = [], []
        with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            for attempt in range(repeats):
                # A new title each time is not enough: the same content would reuse the outputs.
                variant = folder / f"source-{attempt}.mp4"
                ffmpeg("-i", str(source), "-c", "copy", "-metadata", f"comment=run {attempt}", str(variant))
                with variant.open("rb") as fh:
                    answer = http.post("/v1/videos", files={"file": ("s.mp4", fh, "video/mp4")})
                accepted = time.perf_counter()
                video = answer.json()
                # The event stream says `ready` as soon as the worker commits it.
                with http.stream("GET", video["events_url"], timeout=300) as events:
                    for line in events.iter_lines():
                        if line.startswith("event: ready") or line.startswith("event: failed"):
                            break
                pipeline_runs.append(time.perf_counter() - accepted)
                final = http.get(video["url"]).json()
                out = folder / f"bare-{attempt}"
                out.mkdir()
                made = transcode.build(variant, out, info, plan_rungs, hls=True)
                bare_runs.append(timed(made.command, cwd=made.cwd))
        pipeline, bare = statistics.median(pipeline_runs), statistics.median(bare_runs)
        assert final["status"] == "ready", final
        return [
            save(
                Result(
                    name="pipeline-vs-bare-ffmpeg",
                    metric="upload accepted -> ready",
                    value=pipeline,
                    baseline_metric="the same ffmpeg command alone",
                    baseline=bare,
                    ratio=pipeline / bare,
                    goal="<= 1.05x",
                    met=pipeline / bare <= 1.05,
                    unit="s",
                    details={
                        "source": f"{seconds} s 1920x1080 mpeg4",
                        "renditions": [r["name"] for r in final["renditions"]],
                        "pipeline_runs_s": [round(x, 3) for x in pipeline_runs],
                        "bare_runs_s": [round(x, 3) for x in bare_runs],
                    },
                )
            )
        ]
