"""Cost per video: what the platform's own usage API says a phone-like 1080p clip cost, against what
the same clip would cost processed the old way, both at the default prices (docs/cost.md).

The clip is uploaded to a throwaway stack, processed, and its top rendition played once in full
through its signed URL (one view of egress). The usage API's cost per source minute, times ten, is
the figure for a 10-minute 1080p video, against the goal of $0.30. The old way's CPU seconds are
measured by running its commands (one ffmpeg per rung on Debian's ffmpeg) on the same clip; its
storage and egress are taken as equal (the bench `ladder` shows the sizes agree within 5 %).
"""

from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result, save, tenant_key, throwaway_stack, wait_ready
from bench.ladder import make_source, naive_commands
from reelgate.platform.pipeline import ladder
from reelgate.platform.settings import Settings

GOAL_PER_10_MIN = 0.30


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def old_way_cpu_seconds(source: Path, folder: Path, width: int, height: int) -> float:
    rungs = ladder.plan(width, height, Settings().ladder)
    before = _children_cpu()
    for cmd in naive_commands(source, folder, rungs, height):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _children_cpu() - before


def run(seconds: int = 30) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, throwaway_stack() as (env, router):
        folder = Path(tmp)
        source = make_source(folder, "phone-h264", seconds)
        key = tenant_key(env, "bench-cost")
        with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=300) as http:
            with source.open("rb") as fh:
                video = http.post("/v1/videos", files={"file": ("phone.mp4", fh, "video/mp4")}).json()
            video = wait_ready(http, video)
            assert video["status"] == "ready", video
            urls = http.get(video["playback_url"]).json()
            top = video["renditions"][0]
            viewed = len(httpx.get(router + urls["mp4_urls"][top["name"]], timeout=300).content)
            deadline = time.monotonic() + 30
            while True:  # the API writes its egress counts every few seconds
                usage = http.get("/v1/usage").json()
                if usage["egress_bytes"] >= viewed or time.monotonic() > deadline:
                    break
                time.sleep(1)
        mine = usage["per_video"][0]
        rates = usage["rates"]
        old_cpu = old_way_cpu_seconds(source, folder, video["width"], video["height"])
        old_total = old_cpu * rates["per_cpu_second"] + mine["cost"]["storage"] + mine["cost"]["egress"]
        minutes = mine["source_seconds"] / 60
        per_10 = mine["cost_per_source_minute"] * 10
        old_per_10 = old_total / minutes * 10
        return [
            save(
                Result(
                    name="cost-per-video",
                    metric="a 10-minute 1080p video (usage API: cost per source minute x 10)",
                    value=per_10,
                    baseline_metric="the same, processed the old way (one ffmpeg per rung)",
                    baseline=old_per_10,
                    ratio=per_10 / old_per_10,
                    goal=f"< ${GOAL_PER_10_MIN:.2f} per 10-minute 1080p video",
                    met=per_10 < GOAL_PER_10_MIN,
                    unit="USD",
                    details={
                        "clip": f"{seconds} s phone-like 1080p H.264 at 8 Mbit/s, one full view of {top['name']}",
                        "usage": mine,
                        "rates": rates,
                        "old_way_cpu_seconds": round(old_cpu, 2),
                        "cost_per_source_minute": mine["cost_per_source_minute"],
                    },
                )
            )
        ]
