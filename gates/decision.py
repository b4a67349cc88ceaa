"""From gate results to `promote` or `block`, naming the gate that decided.

Any required `fail` or `error` blocks, and so does a required gate that did
not run (`skipped`): missing evidence never promotes. Advisory gates never
block. A waiver turns one named check of one gate advisory until it expires.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from reelgate.gates.judge import summarize
from reelgate.gates.model import Decision, GateResult, worst


class Waiver(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    gate: str
    check: str
    reason: str
    author: str
    expires_at: datetime

    def active(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or datetime.now(UTC))


def apply_waivers(results: list[GateResult], waivers: list[Waiver]) -> list[GateResult]:
    """A waived failing check becomes `warn`, marked with who waived it; the gate is judged again."""
    active = [w for w in waivers if w.active()]
    for result in results:
        touched = False
        for check in result.checks:
            waiver = next((w for w in active if w.gate == result.gate and w.check == check.name), None)
            if waiver and check.verdict in ("fail", "error"):
                check.verdict = "warn"
                check.waived_by = f"{waiver.author} until {waiver.expires_at:%Y-%m-%d %H:%M} UTC: {waiver.reason}"
                touched = True
        if touched and result.verdict in ("fail", "error") and result.checks:
            result.verdict = worst([c.verdict for c in result.checks] + [f.verdict for f in result.findings])
            result.reason = ""
            summarize(result)
            if result.verdict == "warn":
                result.reason = "passed with waived checks: " + ", ".join(c.name for c in result.checks if c.waived_by)
    return results


def blocking(results: list[GateResult]) -> GateResult | None:
    """The required gate that stops a release: the first that failed or could not measure, else the first
    that did not run for want of evidence (a `when` that left it out on purpose stops nothing). The same
    rule holds before promotion and after it."""
    failed = [r for r in results if r.required and r.verdict in ("fail", "error")]
    unrun = [r for r in results if r.required and r.verdict == "skipped" and not r.skipped_on_purpose]
    first = failed or unrun
    return first[0] if first else None


def decide(results: list[GateResult], approval_required: bool = False) -> Decision:
    first = blocking(results)
    if first is not None and first.verdict != "skipped":
        return Decision(
            outcome="block",
            deciding_gate=first.gate,
            reason=f"required gate `{first.gate}` is {first.verdict}: {first.reason}",
        )
    if first is not None:
        return Decision(
            outcome="block",
            deciding_gate=first.gate,
            reason=f"required gate `{first.gate}` did not run ({first.reason}): missing evidence never promotes",
        )
    if not any(r.required and not r.skipped_on_purpose for r in results):
        return Decision(outcome="block", reason="no required gate ran: missing evidence never promotes")
    warned = [r.gate for r in results if r.verdict in ("warn", "fail", "error")]
    note = f" ({len(warned)} with warnings or advisory failures: {', '.join(warned)})" if warned else ""
    required = [r for r in results if r.required]
    return Decision(
        outcome="promote",
        deciding_gate=None,
        needs_approval=approval_required,
        reason=f"all {len(required)} required gates passed{note}",
    )
