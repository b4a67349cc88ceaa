"""Time to switch back after a promotion goes bad, with the post-promotion watch.

The candidate passes its pre gates and then breaks (it answers 500 after 150 requests: the shipped patch
`scripts/demo-patches/fail-after-150-requests.patch`), under a steady load of 100 req/s through HAProxy. The
watch samples the new color's own metrics every second. Measured, from the same release: the engine's time
from the first failed sample to traffic confirmed on the old color (goal < 10 s), and what users saw, from
their first failed request to their last. Baseline, in the same run on the same stack: a bare router switch.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import textwrap
import time
from pathlib import Path

from bench.common import REELGATE, Result, save, tenant_key, throwaway_stack
from reelgate.gates.api import PluginContext
from reelgate.plugins.haproxy import HAProxyConfig, HAProxyRouter
from tests.candidates import PATCHES, ROOT, patched_branch
from tests.load import Load


def run() -> list[Result]:
    with throwaway_stack() as (env, router):
        home = Path(env["REELGATE_HOME"])
        key = tenant_key(env, "bench-watch")
        policy = home / "watched.yaml"
        policy.write_text(
            textwrap.dedent(f"""
            deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}
            scale_down_delay: 1
            watch: {{duration: 60s, interval: 1s, max_error_ratio: 0.01}}
            gates:
              - {{id: up, uses: k6, with: {{script: read, vus: 1, duration: 1s, rate: 5}}}}
            """)
        )
        with (
            patched_branch(PATCHES / "fail-after-150-requests.patch", "bench-watch") as branch,
            Load(f"{router}/v1/videos", key, rate=100, limit_s=600) as load,
        ):
            started = subprocess.run(
                [REELGATE, "release", "start", "--candidate", branch, "--policy", str(policy)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        release_id = started.stdout.split("release ")[-1].split(":")[0]
        shown = " ".join(
            subprocess.run(
                [REELGATE, "release", "show", release_id], env=env, capture_output=True, text=True
            ).stdout.split()
        )
        found = re.search(r"traffic is back on \w+, ([0-9.]+) s after", shown)
        if started.returncode != 1 or found is None:
            raise RuntimeError(f"the release was not switched back: {started.stdout[-2000:]}")
        switched_back = float(found.group(1))
        user_outage = load.failed_at[-1] - load.failed_at[0] if load.failed_at else 0.0

        ctx = PluginContext(home=home, port_base=int(env["REELGATE_PORT_BASE"]), reelgate=REELGATE)
        subprocess.run([REELGATE, "stack", "color", "start", "green"], env=env, check=True, capture_output=True)
        switcher = HAProxyRouter(HAProxyConfig(), ctx)
        bare = []
        for color in ("green", "blue") * 3:
            began = time.monotonic()
            asyncio.run(switcher.switch(color))
            bare.append(time.monotonic() - began)
        bare_s = sorted(bare)[len(bare) // 2]
    return [
        save(
            Result(
                name="watch-switch-back",
                metric="first failed sample to traffic on the old color",
                value=switched_back,
                baseline_metric="bare HAProxy switch (median of 6)",
                baseline=bare_s,
                ratio=switched_back / bare_s if bare_s else 0.0,
                goal="< 10 s",
                met=switched_back < 10,
                unit="s",
                details={
                    "users_saw_errors_for_s": round(user_outage, 3),
                    "failed_requests": load.failed,
                    "requests": load.ok + load.failed,
                    "watch_interval_s": 1,
                },
            )
        )
    ]
