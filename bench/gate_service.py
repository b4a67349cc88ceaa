"""The gate service under pollers: 50 concurrent pollers, each asking once a second (ten times Argo's default
interval), take turns over every route (Argo's and Kargo's POST, the GET, a Flagger hook, /metrics) for 15 s
while a run is in progress; the p95 of each route is compared with the p95 of `/health` (no database) in the
same run (goal: every route under 50 ms). The same 50 pollers without pauses (a closed loop) give the
service's capacity on this machine, with the client on the same 2 cores. Then the
time from a gate's verdict (the run's `finished_at`) to the first poll that sees it, with pollers asking
every second, against that interval (goal: within one interval)."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import REELGATE, Result, save, throwaway_stack
from reelgate.gates.settings import engine_settings
from tests.http_server import Candidate, serving_candidate
from tests.integration.stack import free_port_base

POLLERS = 50
SECONDS = 15.0
INTERVAL = 1.0


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def _pollers(url: str, token: str, ask: dict[str, Any], every: float) -> dict[str, list[float]]:
    """Each route's answer times (ms); each poller asks once per `every` s (0: as fast as it can)."""
    key = f"{ask['namespace']}/{ask['name']}/{ask['revision']}"
    hook = {"name": ask["name"], "namespace": ask["namespace"], "phase": "Progressing", "checksum": ask["revision"]}
    hook["metadata"] = {"token": token, "candidate_url": ask["candidate_url"]}
    routes = {
        "POST /v1/runs": ("POST", "/v1/runs", ask),
        "GET /v1/runs/{key}": ("GET", f"/v1/runs/{key}", None),
        "POST /v1/flagger/rollout": ("POST", "/v1/flagger/rollout", hook),
        "GET /metrics": ("GET", "/metrics", None),
        "GET /health": ("GET", "/health", None),
    }
    times: dict[str, list[float]] = {name: [] for name in routes}
    deadline = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=POLLERS, max_keepalive_connections=POLLERS)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as client:

        async def poller(offset: int) -> None:
            names = list(routes)
            turn = offset
            await asyncio.sleep(every * offset / POLLERS)  # independent controllers: spread over the interval
            while time.monotonic() < deadline:
                name = names[turn % len(names)]
                method, path, body = routes[name]
                started = time.perf_counter()
                answer = await client.request(method, path, json=body)
                took = time.perf_counter() - started
                times[name].append(took * 1000)
                assert answer.status_code < 300, (name, answer.status_code, answer.text)
                turn += 1
                await asyncio.sleep(max(0.0, every - took))

        await asyncio.gather(*(poller(i) for i in range(POLLERS)))
    return times


async def _first_sight(url: str, token: str, ask: dict[str, Any], held: Candidate, db: str) -> float:
    """Pollers every INTERVAL s (staggered, as independent controllers are); the verdict comes; how long after
    its `finished_at` did the first poll see it?"""
    seen: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:

        async def poller(offset: float) -> None:
            await asyncio.sleep(offset)
            while not seen:
                run = (await client.post("/v1/runs", json=ask)).json()["run"]
                if run["state"] == "finished":
                    seen.append(time.time())
                    return
                await asyncio.sleep(INTERVAL)

        pollers = [asyncio.create_task(poller(INTERVAL * i / 5)) for i in range(5)]
        await asyncio.sleep(2)
        held.set("good")
        await asyncio.gather(*pollers)
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT finished_at FROM reelgate_gates.runs WHERE revision = %s", (ask["revision"],)
        ).fetchone()
    assert row is not None
    finished: datetime = row[0]
    return seen[0] - finished.timestamp()


def run() -> list[Result]:
    held = Candidate()
    with (
        throwaway_stack() as (env, _router),
        tempfile.TemporaryDirectory() as tmp,
        serving_candidate(held) as candidate,
    ):
        folder = Path(tmp)
        (folder / "judge.yaml").write_text(
            "version: 1\nname: word\nsteps:\n  - get: /state\n"
            "    poll: {until: {$.state: good}, interval: 0.2, timeout: 300}\n"
        )
        (folder / "policy.yaml").write_text(
            textwrap.dedent(f"""
            name: bench
            gates:
              - {{id: judge, uses: scenario, with: {{files: ["{folder / "judge.yaml"}"]}}}}
            """)
        )
        token = subprocess.run(
            [REELGATE, "gate", "token", "create", "bench", "--namespace", "shop"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        port = free_port_base()
        service = subprocess.Popen(
            [REELGATE, "gate", "serve", "--policy", str(folder / "policy.yaml"), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            ask = {"namespace": "shop", "name": "checkout", "revision": "bench1", "candidate_url": candidate}
            started = httpx.post(f"{url}/v1/runs", json=ask, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert started.json()["run"]["state"] == "running", started.text
            times = asyncio.run(_pollers(url, token, ask, INTERVAL))
            flat_out = asyncio.run(_pollers(url, token, ask, 0))
            lag = asyncio.run(_first_sight(url, token, ask, held, engine_settings(env).db_url))
        finally:
            os.kill(service.pid, signal.SIGTERM)
            service.wait(timeout=30)
    p95 = {name: round(_p95(values), 2) for name, values in times.items()}
    counts = {name: len(values) for name, values in times.items()}
    health = p95.pop("GET /health")
    worst_name, worst = max(p95.items(), key=lambda item: item[1])
    capacity = sum(len(v) for v in flat_out.values()) / SECONDS
    details: dict[str, object] = {
        "p95_ms": p95,
        "requests": counts,
        "pollers": POLLERS,
        "poll_interval_s": INTERVAL,
        "seconds": SECONDS,
        "closed_loop_requests_per_s": round(capacity, 1),
        "closed_loop_p95_ms": {name: round(_p95(values), 1) for name, values in flat_out.items()},
    }
    return [
        save(
            Result(
                name="gate-service-pollers",
                metric=f"p95 of the slowest route ({worst_name}), {POLLERS} pollers asking every {INTERVAL:g} s",
                value=worst,
                baseline_metric="p95 of GET /health (no database), same run",
                baseline=health,
                ratio=worst / health if health else 0.0,
                goal="every route p95 < 50 ms",
                met=worst < 50,
                unit="ms",
                details=details,
            )
        ),
        save(
            Result(
                name="gate-service-verdict-seen",
                metric="verdict (finished_at) to the first poll that sees it",
                value=lag,
                baseline_metric="the poll interval",
                baseline=INTERVAL,
                ratio=lag / INTERVAL,
                goal="within one poll interval",
                met=lag <= INTERVAL,
                unit="s",
                details={"pollers": 5, "staggered": True},
            )
        ),
    ]
