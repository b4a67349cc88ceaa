"""Runner wall time vs the critical path of its gates: parallel gates cost their longest member,
exclusive gates their sum. Real k6 and coverage gates against a throwaway stack."""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from pathlib import Path

from bench.common import Result, save, tenant_key, throwaway_stack
from reelgate.gates.manager import registry
from reelgate.gates.policy import parse_policy
from reelgate.gates.runner import Runner, RunOptions

ROOT = Path(__file__).resolve().parents[1]


def run() -> list[Result]:
    with throwaway_stack() as (env, router), tempfile.TemporaryDirectory() as tmp:
        key = tenant_key(env, "bench-runner")
        policy = textwrap.dedent(f"""
            gates:
              - {{id: read-a, uses: k6, with: {{script: read, vus: 2, duration: 3s}}}}
              - {{id: read-b, uses: k6, with: {{script: read, vus: 2, duration: 4s}}}}
              - id: unit
                uses: coverage
                with: {{command: [-m, pytest, tests/unit/platform/test_ladder.py, -q, -p, no:cacheprovider],
                        cwd: "{ROOT}"}}
              - {{id: load, uses: k6, exclusive: true, with: {{script: read, vus: 4, duration: 3s}}}}
        """)
        reg = registry()
        loaded = parse_policy(policy, "bench", reg.gates)
        options = RunOptions(target=router, workdir=Path(tmp), api_key=key, home=ROOT)
        started = time.monotonic()
        results = asyncio.run(Runner(loaded, reg.gates, options).run("pre"))
        wall = time.monotonic() - started
    durations = {r.gate: r.duration_s for r in results}
    exclusive = {g.id for g in loaded.policy.gates if g.exclusive}
    critical = max(d for g, d in durations.items() if g not in exclusive) + sum(durations[g] for g in exclusive)
    return [
        save(
            Result(
                name="runner-vs-critical-path",
                metric="runner wall time",
                value=wall,
                baseline_metric="critical path of the gates' own durations",
                baseline=critical,
                ratio=wall / critical,
                goal="<= 1.1x",
                met=wall / critical <= 1.1,
                unit="s",
                details={"gates": durations, "verdicts": {r.gate: r.verdict for r in results}},
            )
        )
    ]
