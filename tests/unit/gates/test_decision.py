from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reelgate.gates.decision import Waiver, apply_waivers, decide
from reelgate.gates.model import Check, GateResult, Verdict


def result(gate: str, verdict: Verdict, required: bool = True, checks: list[Check] | None = None) -> GateResult:
    return GateResult(
        gate=gate,
        uses="x",
        verdict=verdict,
        reason=f"{gate} said {verdict}",
        required=required,
        checks=checks or [],
    )


def test_any_required_fail_or_error_blocks_naming_the_gate() -> None:
    decision = decide([result("a", "pass"), result("b", "error"), result("c", "fail")])
    assert decision.outcome == "block" and decision.deciding_gate == "b"
    assert "`b` is error" in decision.reason


def test_advisory_gates_never_block() -> None:
    decision = decide([result("a", "pass"), result("dry-run", "fail", required=False)])
    assert decision.outcome == "promote" and "dry-run" in decision.reason


def test_waiver_turns_one_named_check_advisory_until_it_expires() -> None:
    def failing() -> GateResult:
        return result(
            "load",
            "fail",
            checks=[
                Check(name="p95_ms", value=900, verdict="fail", note="too slow"),
                Check(name="error_rate", value=0, verdict="pass"),
            ],
        )

    later = datetime.now(UTC) + timedelta(hours=1)
    waiver = Waiver(gate="load", check="p95_ms", reason="known slow disk", author="ana", expires_at=later)
    [waived] = apply_waivers([failing()], [waiver])
    assert waived.verdict == "warn" and "ana" in (waived.checks[0].waived_by or "")
    assert decide([waived]).outcome == "promote"
    expired = Waiver(
        gate="load", check="p95_ms", reason="old", author="ana", expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert apply_waivers([failing()], [expired])[0].verdict == "fail"
    other_check = Waiver(gate="load", check="error_rate", reason="x", author="ana", expires_at=later)
    assert apply_waivers([failing()], [other_check])[0].verdict == "fail"


def test_approval_is_carried_on_a_promote() -> None:
    assert decide([result("a", "pass")], approval_required=True).needs_approval


def test_a_required_gate_that_did_not_run_blocks() -> None:
    """Before: `all 1 required gates passed` for a lone required gate that was skipped."""
    decision = decide([result("load", "skipped"), result("dry-run", "pass", required=False)])
    assert decision.outcome == "block" and decision.deciding_gate == "load"
    assert "did not run" in decision.reason and "missing evidence never promotes" in decision.reason
    assert decide([result("load", "skipped", required=False), result("unit", "pass")]).outcome == "promote"


def test_no_required_gate_at_all_never_promotes() -> None:
    decision = decide([result("dry-run", "pass", required=False)])
    assert decision.outcome == "block" and "no required gate ran" in decision.reason
