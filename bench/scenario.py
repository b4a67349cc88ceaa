"""The scenario runner's own cost: the same requests through `scenario run`'s runner and through plain httpx,
in the same run, against a throwaway stack. Each side makes 300 GETs of a video (expect a status and two
JSON paths, capture one) on one keep-alive connection; medians of 5 interleaved runs."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Result, save, tenant_key, throwaway_stack
from reelgate.gates.scenario import load_scenario, run_loaded

REQUESTS = 300
RUNS = 5


def _scenario(folder: Path, video_url: str) -> Path:
    step = (
        f"  - get: {video_url}\n"
        "    expect: {status: 200, json: {$.status: ready, $.width: 160}}\n"
        "    capture: {title: $.title}\n"
    )
    path = folder / "reads.yaml"
    path.write_text(
        'name: reads\ndefaults: {headers: {Authorization: "Bearer ${secret.API_KEY}"}}\nsteps:\n' + step * REQUESTS
    )
    return path


async def _plain(router: str, video_url: str, key: str) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(REQUESTS):
            answer = await client.get(f"{router}{video_url}")
            body = answer.json()
            assert answer.status_code == 200 and body["status"] == "ready" and body["width"] == 160
    return time.perf_counter() - started


def run() -> list[Result]:
    with throwaway_stack() as (env, router), tempfile.TemporaryDirectory() as tmp:
        key = tenant_key(env, "bench-scenario")
        clip = Path(__file__).resolve().parents[1] / "scenarios" / "fixtures" / "clip-160x120.mp4"
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client, clip.open("rb") as fh:
            video = client.post(f"{router}/v1/videos", files={"file": ("c.mp4", fh, "video/mp4")}).json()
            deadline = time.monotonic() + 120
            while client.get(f"{router}{video['url']}").json()["status"] != "ready" and time.monotonic() < deadline:
                time.sleep(0.5)
        loaded = load_scenario(_scenario(Path(tmp), video["url"]))
        scenario_s, plain_s = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            result = asyncio.run(run_loaded(loaded, router, env={"API_KEY": key}))
            scenario_s.append(time.perf_counter() - started)
            assert result.passed, [s.reason for s in result.failed]
            plain_s.append(asyncio.run(_plain(router, video["url"], key)))
    measured, baseline = statistics.median(scenario_s), statistics.median(plain_s)
    return [
        save(
            Result(
                name="scenario-overhead",
                metric=f"scenario run, {REQUESTS} checked GETs",
                value=measured,
                baseline_metric="the same GETs and checks with plain httpx",
                baseline=baseline,
                ratio=measured / baseline,
                goal="<= 1.2x",
                met=measured / baseline <= 1.2,
                unit="s",
                details={"runs": RUNS, "scenario_s": scenario_s, "plain_s": plain_s},
            )
        )
    ]
