"""An example third-party gate: `http-status` GETs a path and measures its status and latency."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec

from reelgate.gates.api import Check, GateContext, GateResult, hookimpl, measured, unmeasured


class Config(msgspec.Struct, forbid_unknown_fields=True):
    path: str = "/health/live"
    expect: int = 200


class HttpStatusGate:
    name = "http-status"
    Config = Config

    async def run(self, ctx: GateContext) -> GateResult:
        config: Config = ctx.config
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                answer = await client.get(ctx.target.rstrip("/") + config.path)
        except httpx.HTTPError as exc:
            return unmeasured(f"{ctx.target} is unreachable: {exc}")
        took = (time.perf_counter() - started) * 1000
        status_ok = answer.status_code == config.expect
        # Only what was measured: the runner stamps the gate's id and type, and judges the policy's checks.
        return measured(
            checks=[
                Check(
                    name="status",
                    value=answer.status_code,
                    op="==",
                    threshold=config.expect,
                    verdict="pass" if status_ok else "fail",
                ),
                Check(name="latency_ms", value=round(took, 3), unit="ms"),
            ],
        )


@hookimpl
def register_gates(register: Any) -> None:
    register(HttpStatusGate)
