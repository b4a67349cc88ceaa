"""The verdict model: what every gate returns and what a release decides.

`error` means the tool could not measure (missing, unreachable, no data).
Missing data is never a pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

Verdict = Literal["pass", "warn", "fail", "error", "skipped"]
Severity = Literal["info", "low", "medium", "high", "critical"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]

# Worst first: the verdict of a group is its worst member's.
SEVERITY_ORDER: tuple[Verdict, ...] = ("error", "fail", "warn", "pass", "skipped")


def worst(verdicts: list[Verdict], empty: Verdict = "pass") -> Verdict:
    if not verdicts:
        return empty
    return min(verdicts, key=SEVERITY_ORDER.index)


class Check(msgspec.Struct, kw_only=True):
    """One measured value, compared with a threshold and, optionally, a baseline."""

    name: str
    value: float | None
    unit: str = ""
    metric: str = ""
    """The measured value's name as the gate reported it, when the check is named otherwise
    (a baseline comparison is `p95_ms vs live`, its metric `p95_ms`)."""
    op: Op | None = None
    threshold: float | None = None
    baseline: float | None = None
    delta: float | None = None
    verdict: Verdict = "pass"
    note: str = ""
    waived_by: str | None = None


class Finding(msgspec.Struct, kw_only=True):
    """Something a tool reported that a person should look at."""

    rule_id: str
    severity: Severity
    message: str
    location: str = ""
    help_url: str = ""
    verdict: Verdict = "warn"


class Series(msgspec.Struct, kw_only=True):
    """A measurement over time, for charts: (seconds since the run started, value) points."""

    name: str
    label: str
    """Whose: `candidate` or `live`."""
    unit: str = ""
    points: list[tuple[float, float]] = []


class GateResult(msgspec.Struct, kw_only=True):
    gate: str = ""
    """The gate's id in the policy: the runner stamps it (a gate returns only what it measured)."""
    uses: str = ""
    """The gate type: the runner stamps it too."""
    verdict: Verdict
    reason: str
    """One sentence naming what decided."""
    checks: list[Check] = []
    findings: list[Finding] = []
    artifacts: list[str] = []
    series: list[Series] = []
    """Measurements over time (k6's p95 latency per second, for the candidate and live)."""
    attempts: int = 1
    started_at: datetime | None = None
    duration_s: float = 0.0
    required: bool = True
    phase: Literal["pre", "post"] = "pre"
    target: str = ""
    skipped_on_purpose: bool = False
    """Skipped by a condition of the policy (`when`), not for want of evidence: it blocks nothing."""


class Decision(msgspec.Struct, kw_only=True):
    outcome: Literal["promote", "block"]
    reason: str
    deciding_gate: str | None = None
    needs_approval: bool = False


def measured(
    checks: list[Check] | None = None,
    findings: list[Finding] | None = None,
    artifacts: list[str] | None = None,
    series: list[Series] | None = None,
    reason: str = "",
) -> GateResult:
    """What a gate returns when it measured: the runner stamps the gate's id and type, judges the checks
    against the policy and writes the reason when the gate leaves it empty."""
    return GateResult(
        verdict="pass",
        reason=reason,
        checks=checks or [],
        findings=findings or [],
        artifacts=artifacts or [],
        series=series or [],
    )


def unmeasured(reason: str, artifacts: list[str] | None = None) -> GateResult:
    """What a gate returns when it could not measure (a tool missing, unreachable, no data): `error`, which
    never passes, with one sentence saying why."""
    return GateResult(verdict="error", reason=reason, artifacts=artifacts or [])


def error_result(gate: str, uses: str, reason: str) -> GateResult:
    """`unmeasured`, naming the gate itself (kept for plugins written before the runner stamped results)."""
    return GateResult(gate=gate, uses=uses, verdict="error", reason=reason)


class Event(msgspec.Struct, kw_only=True):
    """One step of a release's timeline: a state change, a gate, a human decision."""

    at: datetime
    kind: str
    message: str
    actor: str = "reelgate"
    detail: dict[str, Any] | None = None
    """What the event measured, when it did (a watch sample's requests, errors, error ratio and p95)."""


class Report(msgspec.Struct, kw_only=True):
    """Everything a reporter writes from: one release (or one `gate run`)."""

    release_id: str
    candidate: str
    policy: str
    state: str
    decision: Decision | None
    results: list[GateResult]
    timeline: list[Event] = []
    started_at: datetime | None = None
    finished_at: datetime | None = None
