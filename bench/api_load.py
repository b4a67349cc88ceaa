"""Authenticated GET /v1/videos/{id} vs a bare Litestar endpoint (/health/live) on the same server, with k6."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result, save, tenant_key, throwaway_stack
from reelgate.contract.media import clip_command

K6 = str(Path(sys.executable).parent / "k6")
SCRIPT = Path(__file__).parent / "k6" / "http_get.js"


def k6(url: str, key: str | None, **env: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        args = [
            K6,
            "run",
            "--quiet",
            "--no-usage-report",
            "--no-color",
            str(SCRIPT),
            "-e",
            f"URL={url}",
            "-e",
            f"SUMMARY={summary}",
        ]
        if key:
            args += ["-e", f"KEY={key}"]
        for name, value in env.items():
            args += ["-e", f"{name}={value}"]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        return json.loads(summary.read_text())["metrics"]


def run(duration: str = "10s") -> list[Result]:
    results = []
    with throwaway_stack() as (env, router), tempfile.TemporaryDirectory() as tmp:
        key = tenant_key(env, "bench")
        clip = Path(tmp) / "clip.mp4"
        subprocess.run(clip_command(clip, 1), check=True)
        api = router.rsplit(":", 1)[0] + ":" + str(int(router.rsplit(":", 1)[1]) + 1)  # blue's own port
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            video = http.post("/v1/videos", files={"file": ("c.mp4", clip.read_bytes(), "video/mp4")}).json()
            deadline = time.monotonic() + 60
            while http.get(video["url"]).json()["status"] != "ready" and time.monotonic() < deadline:
                time.sleep(0.2)
        target = f"{api}{video['url']}"
        bare = k6(f"{api}/health/live", None, MODE="closed", VUS="200", DURATION=duration)
        authed = k6(target, key, MODE="closed", VUS="200", DURATION=duration)
        bare_rps, authed_rps = bare["http_reqs"]["values"]["rate"], authed["http_reqs"]["values"]["rate"]
        results.append(
            save(
                Result(
                    name="api-get-closed-loop",
                    metric="GET /v1/videos/{id} req/s",
                    value=authed_rps,
                    baseline_metric="bare /health/live req/s",
                    baseline=bare_rps,
                    ratio=authed_rps / bare_rps,
                    goal=">= 0.5x",
                    met=authed_rps / bare_rps >= 0.5,
                    unit="req/s",
                    details={
                        "vus": 200,
                        "duration": duration,
                        "authed_failed_rate": authed["http_req_failed"]["values"]["rate"],
                        "authed_p95_ms": authed["http_req_duration"]["values"]["p(95)"],
                    },
                )
            )
        )
        open_loop = k6(target, key, MODE="open", RATE="1000", DURATION=duration)
        p95 = open_loop["http_req_duration"]["values"]["p(95)"]
        bare_open = k6(f"{api}/health/live", None, MODE="open", RATE="1000", DURATION=duration)
        bare_p95 = bare_open["http_req_duration"]["values"]["p(95)"]
        results.append(
            save(
                Result(
                    name="api-get-1000rps",
                    metric="p95 of GET /v1/videos/{id} at 1000 req/s",
                    value=p95,
                    baseline_metric="p95 of /health/live at 1000 req/s",
                    baseline=bare_p95,
                    ratio=p95 / bare_p95 if bare_p95 else 0.0,
                    goal="p95 < 50 ms",
                    met=p95 < 50,
                    unit="ms",
                    details={
                        "achieved_rps": open_loop["http_reqs"]["values"]["rate"],
                        "failed_rate": open_loop["http_req_failed"]["values"]["rate"],
                        "dropped_iterations": open_loop.get("dropped_iterations", {}).get("values", {}).get("count", 0),
                    },
                )
            )
        )
    return results
