"""Recovery from each chaos experiment, and MTTR over 20 worker kills, on a throwaway stack.

Each experiment runs through the chaos gate (a 20 s 1280x720 clip in flight, 20 reads a second). Its
recovery time (fault until the color is ready and the clip is done) is compared with the baseline, in
the same run on the same stack: the time the same clip takes from upload to `ready` with no fault.
The worker-kill and api-kill rows are the median of 20 kills each (MTTR), with the maximum beside it;
goal < 30 s. A run the gate could not measure (`error`) is counted and named, not hidden: the api-kill
experiment once ended `error` in 2 of 4 releases.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec

from bench.common import Result, save, tenant_key, throwaway_stack
from reelgate.chaos.disk import unmount_volume
from reelgate.contract import stack as contract
from reelgate.gates.api import GateContext, make_clip
from reelgate.plugins.chaostoolkit import ChaosConfig, ChaosGate, prepare_chaos_home

ROOT = Path(__file__).parents[1]
EXPERIMENTS = ["worker-kill", "api-kill", "postgres-restart", "postgres-pause", "valkey-outage", "disk-full", "latency"]
KILLS = 20
REPEATED = ("worker-kill", "api-kill")
GOAL_S = 30.0


def _clean_processing(router: str, key: str, workdir: Path, runs: int = 3) -> float:
    took = []
    with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        for i in range(runs):  # a new file each time, or the platform reuses the first one's renditions
            clip = asyncio.run(make_clip(workdir / f"clean-{i}.mp4", seconds=20, size="1280x720", tag=f"clean-{i}"))
            started = time.monotonic()
            with clip.open("rb") as fh:
                video = api.post("/v1/videos", files={"file": ("clean.mp4", fh, "video/mp4")}).json()
            while api.get(video["url"]).json()["status"] not in ("ready", "failed"):
                time.sleep(0.1)
            took.append(time.monotonic() - started)
    return statistics.median(took)


def _experiment(name: str, color: str, target: str, key: str, workdir: Path) -> dict[str, float | None] | str:
    """The experiment's checks by name, or why the gate could not measure it."""
    config = msgspec.convert(
        {
            "experiments": [str(ROOT / "chaos" / "experiments" / f"{name}.yaml")],
            "color": color,
            "blast_radius": "shared",
            "reason": "a throwaway benchmark stack",
        },
        ChaosConfig,
    )
    ctx = GateContext(gate_id="bench", target=target, config=config, workdir=workdir, api_key=key)
    result = asyncio.run(ChaosGate().run(ctx))
    if result.verdict == "error":
        return result.reason
    measured = {c.name.split(".", 1)[1]: c.value for c in result.checks}
    logs = [Path(a).read_text() for a in result.artifacts if a.endswith("chaos.log") and Path(a).exists()]
    if any("HAProxy has" in log for log in logs):  # api-kill: did HAProxy mark it DOWN, or only fail a check?
        measured["router_marked_down"] = float(any("after marking it DOWN" in log for log in logs))
    return measured


def _as_chaos_run_does(home: Path) -> Callable[[], None]:
    """The stack `reelgate chaos run` makes, with a 2 GiB media volume: the 20 worker kills alone store
    about 400 MB of clips and renditions."""
    if not prepare_chaos_home(home, 2048):
        raise RuntimeError("bench chaos mounts a media volume of its own: run it as root")
    return lambda: unmount_volume(home / "var" / "media")


def run() -> list[Result]:
    """`BENCH_CHAOS=disk-full,latency` runs only those experiments."""
    only = [n for n in os.environ.get("BENCH_CHAOS", "").split(",") if n]
    results = []
    with throwaway_stack(_as_chaos_run_does) as (env, router):
        os.environ.update(REELGATE_HOME=env["REELGATE_HOME"], REELGATE_PORT_BASE=env["REELGATE_PORT_BASE"])
        key = tenant_key(env, "bench-chaos")
        color = httpx.get(f"{router}/health/version", timeout=5).json()["color"]
        target = f"http://127.0.0.1:{contract.port(int(env['REELGATE_PORT_BASE']), color)}"
        workdir = Path(env["REELGATE_HOME"]) / "bench"
        workdir.mkdir()
        baseline = _clean_processing(router, key, workdir)
        for name in only or EXPERIMENTS:
            runs = KILLS if name in REPEATED else 1
            outcomes = [_experiment(name, color, target, key, workdir / f"{name}-{i}") for i in range(runs)]
            errors = [o for o in outcomes if isinstance(o, str)]
            measured = [o for o in outcomes if not isinstance(o, str)]
            recoveries = [m["recovery_s"] for m in measured]
            known = [r for r in recoveries if r is not None]
            value = statistics.median(known) if known and len(known) == len(recoveries) else float("inf")
            results.append(
                save(
                    Result(
                        name=f"chaos-{name}",
                        metric="median recovery" if runs > 1 else "recovery",
                        value=value,
                        baseline_metric="the clip's processing with no fault",
                        baseline=baseline,
                        ratio=value / baseline,
                        goal=f"< {GOAL_S:g} s",
                        met=value < GOAL_S
                        and not errors
                        and all(m["jobs_lost"] == 0 and "job_in_flight" not in m for m in measured),
                        unit="s",
                        details={
                            "runs": runs,
                            "measured": len(measured),
                            "errors": errors,
                            "recovery_s": recoveries,
                            "max_recovery_s": max(known) if known else None,
                            "answered_again_s": [m["answered_again_s"] for m in measured],
                            "requests_failed": sum(m["requests_failed"] or 0 for m in measured),
                            "requests": sum(m["requests"] or 0 for m in measured),
                            "availability_min": min((m["availability"] or 0 for m in measured), default=None),
                            "jobs_lost": sum(m["jobs_lost"] or 0 for m in measured),
                            # HAProxy's view of a killed API: seconds from the kill until it saw the check
                            # fail, and until the API was UP again (api-kill only).
                            "router_saw_it_down_s": [m.get("router-marks-it-down") for m in measured],
                            "router_up_again_s": [m.get("router-marks-it-up-again") for m in measured],
                            "router_marked_down": sum(m.get("router_marked_down") or 0 for m in measured),
                            "runs_without_a_job_in_flight": sum("job_in_flight" in m for m in measured),
                        },
                    )
                )
            )
    return results
