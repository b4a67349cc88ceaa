"""Small gate types of our own (plugins, not mocks) that the engine's unit tests run."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec

from reelgate.gates.api import Check, GateContext, GateResult


class SleepConfig(msgspec.Struct, forbid_unknown_fields=True):
    seconds: float = 0.2
    value: float = 1.0
    verdict: str = "pass"
    fail_times: int = 0


class Sleeper:
    name = "sleep"
    Config = SleepConfig
    running: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    calls: ClassVar[dict[str, int]] = {}

    async def run(self, ctx: GateContext) -> GateResult:
        cls = type(self)
        cls.calls[ctx.gate_id] = cls.calls.get(ctx.gate_id, 0) + 1
        cls.running += 1
        cls.peak = max(cls.peak, cls.running)
        try:
            await asyncio.sleep(ctx.config.seconds)
        finally:
            cls.running -= 1
        if cls.calls[ctx.gate_id] <= ctx.config.fail_times:
            return GateResult(gate="", uses="", verdict="error", reason="flaky tool")
        return GateResult(
            gate="",
            uses="",
            verdict=ctx.config.verdict,
            reason="",
            checks=[
                Check(name="value", value=ctx.config.value, unit="ms"),
                Check(name="baseline:value", value=10.0, unit="ms"),
            ],
        )


class Crasher:
    name = "crash"
    Config = SleepConfig

    async def run(self, ctx: GateContext) -> GateResult:
        raise RuntimeError("plugin bug")


class Empty:
    name = "empty"
    Config = SleepConfig

    async def run(self, ctx: GateContext) -> Any:
        return GateResult(gate="", uses="", verdict="pass", reason="")


TYPES: dict[str, type[Any]] = {"sleep": Sleeper, "crash": Crasher, "empty": Empty}


class ByTargetConfig(msgspec.Struct, forbid_unknown_fields=True):
    values: dict[str, float] = {}
    """What the gate measures at each target URL; a target not listed makes it fail to measure."""


class ByTarget:
    """Measures a value that depends on the URL it is pointed at, as a real gate (axe, ZAP) would."""

    name = "by-target"
    Config = ByTargetConfig
    targets: ClassVar[list[str]] = []

    async def run(self, ctx: GateContext) -> GateResult:
        type(self).targets.append(ctx.target)
        if ctx.target not in ctx.config.values:
            return GateResult(gate="", uses="", verdict="error", reason=f"{ctx.target} is unreachable")
        value = ctx.config.values[ctx.target]
        return GateResult(gate="", uses="", verdict="pass", reason="", checks=[Check(name="violations", value=value)])


TYPES["by-target"] = ByTarget
