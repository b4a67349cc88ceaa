"""1000 users at once, with think time, through the router: error rate and p95 against a baseline.

Each k6 user (bench/k6/users.js) loops: the library page, a video's status, its thumbnail, a ranged
read of a rendition, with 1-2 s of thinking after each; one user in 50 also uploads a clip once. The
users are spread over 20 tenants (50 each), whose rate limit (6,000 a minute) lets their load through:
1,000 users on one tenant at the default 600 a minute would rightly be refused.

The baseline is the same script with 50 users (one tenant's worth) on the same stack: what the
platform does unloaded. The same 1,000 users also run against one uvicorn process per color, and
against granian when it is installed, each on a stack of its own: the figures are in the details.
The goal for 1,000 users on 2 cores: under 0.1 % errors and a p95 under 200 ms.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import REELGATE, Result, save, throwaway_stack, wait_ready
from reelgate.contract.media import clip_command

K6 = str(Path(sys.executable).parent / "k6")
SCRIPT = Path(__file__).parent / "k6" / "users.js"
TENANTS = 20
RATE_LIMIT = 6000
VIDEOS_PER_TENANT = 3
GOAL_P95_MS = 200.0
GOAL_ERRORS = 0.001


def _clip(folder: Path, name: str, seconds: int, size: str) -> Path:
    path = folder / name
    subprocess.run(clip_command(path, seconds, size, audio=True, tag=name), check=True)
    return path


def prepare(env: dict[str, str], router: str, folder: Path) -> list[dict[str, Any]]:
    """20 tenants, each with a few ready videos; their keys and videos for the k6 script."""
    targets = []
    for t in range(TENANTS):
        out = subprocess.run(
            [REELGATE, "tenant", "create", f"users-{t}", "--rate-limit", str(RATE_LIMIT)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        key = out.strip().splitlines()[-1]
        videos = []
        with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            for v in range(VIDEOS_PER_TENANT):
                clip = _clip(folder, f"t{t}-v{v}.mp4", 2, "640x360")
                with clip.open("rb") as fh:
                    videos.append(http.post("/v1/videos", files={"file": (clip.name, fh, "video/mp4")}).json())
            ready = []
            for video in videos:
                current = wait_ready(http, video)
                if current["status"] != "ready":
                    raise RuntimeError(f"video {video['id']} failed: {current['failure_reason']}")
                ready.append({"id": current["id"], "rendition": current["renditions"][-1]["name"]})
        targets.append({"key": key, "videos": ready})
    return targets


def k6(router: str, targets_file: Path, clip: Path, vus: int, duration: str) -> dict[str, Any]:
    summary = targets_file.parent / f"summary-{vus}.json"
    args = [K6, "run", "--quiet", "--no-usage-report", "--no-color", str(SCRIPT)]
    for name, value in {
        "URL": router,
        "TARGETS": str(targets_file),
        "CLIP": str(clip),
        "VUS": str(vus),
        "DURATION": duration,
        "SUMMARY": str(summary),
    }.items():
        args += ["-e", f"{name}={value}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    metrics: dict[str, Any] = json.loads(summary.read_text())["metrics"]
    return metrics


def figures(metrics: dict[str, Any]) -> dict[str, Any]:
    per_type = {
        name: round(metrics[f"http_req_duration{{name:{name}}}"]["values"]["p(95)"], 1)
        for name in ("library", "status", "thumbnail", "range", "upload")
        if f"http_req_duration{{name:{name}}}" in metrics
    }
    return {
        "requests": int(metrics["http_reqs"]["values"]["count"]),
        "req_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "error_rate": metrics["http_req_failed"]["values"]["rate"],
        "p95_ms": round(metrics["http_req_duration"]["values"]["p(95)"], 1),
        "p99_ms": round(metrics["http_req_duration"]["values"]["p(99)"], 1),
        "p95_ms_by_request": per_type,
    }


def measure(duration: str, vus: int, **stack_env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(50 users, `vus` users) on a throwaway stack with these settings."""
    with tempfile.TemporaryDirectory() as tmp, throwaway_stack(None, **stack_env) as (env, router):
        folder = Path(tmp)
        targets_file = folder / "targets.json"
        targets_file.write_text(json.dumps(prepare(env, router, folder)))
        upload = _clip(folder, "upload.mp4", 1, "320x240")
        small = figures(k6(router, targets_file, upload, 50, "30s"))
        return small, figures(k6(router, targets_file, upload, vus, duration))


def run(duration: str = "60s", vus: int = 1000) -> list[Result]:
    small, big = measure(duration, vus)  # the platform's defaults: uvicorn, api_processes = 2
    others = {"uvicorn, 1 process": measure(duration, vus, REELGATE_API_PROCESSES="1")[1]}
    if importlib.util.find_spec("granian"):  # pip install 'reelgate[granian]'
        others["granian, 2 workers"] = measure(duration, vus, REELGATE_API_SERVER="granian")[1]
    met = big["error_rate"] < GOAL_ERRORS and big["p95_ms"] < GOAL_P95_MS
    return [
        save(
            Result(
                name="users-1000",
                metric=f"p95 with {vus} users thinking 1-2 s ({big['req_per_s']} req/s)",
                value=big["p95_ms"],
                baseline_metric=f"p95 with 50 users ({small['req_per_s']} req/s)",
                baseline=small["p95_ms"],
                ratio=big["p95_ms"] / small["p95_ms"],
                goal=f"errors < {GOAL_ERRORS:.1%}, p95 < {GOAL_P95_MS:g} ms",
                met=met,
                unit="ms",
                details={
                    "users": big,
                    "baseline": small,
                    "other_servers": others,
                    "tenants": TENANTS,
                    "rate_limit_per_minute": RATE_LIMIT,
                },
            )
        )
    ]
