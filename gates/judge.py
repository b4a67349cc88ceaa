"""Judging a gate's measurements against a policy's checks.

Pure functions: `apply_rule` turns one measured value and its baseline into a
judged `Check`; `summarize` sets a gate's verdict and one-sentence reason from
its checks and findings. The runner and the decision both use them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Literal

from reelgate.gates.model import Check, GateResult, Verdict, worst
from reelgate.gates.policy import CheckRule

OnMissingBaseline = Literal["skip", "warn", "error"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_MISSING: dict[OnMissingBaseline, Verdict] = {"skip": "skipped", "warn": "warn", "error": "error"}
NO_PROMOTED = "no promoted release to compare with"


def compare(value: float, op: str, limit: float) -> bool:
    return _OPS[op](value, limit)


def relative_limit(baseline: float, op: str, max_regression: float, tolerance: float = 0.0) -> float:
    """The value allowed when it may be `max_regression` percent (and at least `tolerance`) worse."""
    margin = max(abs(baseline) * max_regression / 100, tolerance)
    return baseline + margin if op in ("<", "<=") else baseline - margin


def check_name(rule: CheckRule) -> str:
    """A baseline comparison is shown (and waived) apart from an absolute rule on the same value."""
    return f"{rule.name} vs {rule.baseline}" if rule.baseline else rule.name


def apply_rule(
    measured: dict[str, Check], rule: CheckRule, baseline: float | None, on_missing: OnMissingBaseline = "warn"
) -> Check:
    """Judge one policy check against the gate's measurement (and the baseline, if the rule has one).

    The judged check keeps the measured value's name in `metric`, so a later release finds it
    as this release's `last_promoted` value whatever the check is called.
    """
    found = measured.get(rule.name)
    name = check_name(rule)
    if found is None or found.value is None:
        return Check(
            name=name,
            metric=rule.name,
            value=None,
            op=rule.op,
            threshold=rule.threshold,
            verdict="error",
            note="the gate did not measure this value",
        )
    value = found.value
    breach: Verdict = "fail" if rule.severity == "fail" else "warn"
    check = Check(name=name, metric=rule.name, value=value, unit=found.unit, op=rule.op, threshold=rule.threshold)
    notes: list[str] = []
    verdicts: list[Verdict] = []
    if rule.threshold is not None:
        if compare(value, rule.op, rule.threshold):
            verdicts.append("pass")
        else:
            verdicts.append(breach)
            notes.append(f"{value:g} is not {rule.name} {rule.op} {rule.threshold:g}")
    if rule.baseline is not None:
        if baseline is None:
            # Nothing to compare with is never a pass: the policy says what it is.
            missing = NO_PROMOTED if rule.baseline == "last_promoted" else "no live baseline was measured"
            verdicts.append(_MISSING[on_missing] if rule.baseline == "last_promoted" else "error")
            notes.append(missing)
        else:
            check.baseline = baseline
            check.delta = value - baseline
            limit = relative_limit(baseline, rule.op, rule.max_regression or 0, rule.tolerance)
            if rule.threshold is None:
                check.threshold = round(limit, 6)
            if compare(value, rule.op, limit):
                verdicts.append("pass")
            else:
                verdicts.append(breach)
                notes.append(
                    f"{value:g} is more than {rule.max_regression:g}% worse than the "
                    f"{rule.baseline} baseline {baseline:g}"
                )
    # `skipped` only when nothing else was judged (a skipped baseline on its own).
    check.verdict = worst(verdicts, empty="pass") if verdicts != ["skipped"] else "skipped"
    check.note = "; ".join(notes)
    return check


def summarize(result: GateResult) -> GateResult:
    """Set the verdict and the one-sentence reason from the checks and findings (unless error/skipped).

    A gate's own `fail` or `warn` stands even when every check passes: it never turns into a pass.
    """
    if result.verdict in ("error", "skipped"):
        return result
    own = [result.verdict] if result.verdict in ("fail", "warn") else []
    verdicts = [c.verdict for c in result.checks] + [f.verdict for f in result.findings] + own
    result.verdict = worst(verdicts)
    deciding = next((c for c in result.checks if c.verdict == result.verdict), None)
    finding = next((f for f in result.findings if f.verdict == result.verdict), None)
    if result.verdict in ("pass", "skipped"):
        judged = [c for c in result.checks if c.verdict != "skipped"]
        measured = [c for c in result.checks if c.value is not None]
        if not judged and not measured and not result.findings:
            result.verdict = "error"
            result.reason = "the gate measured nothing (missing data never passes)"
        elif not judged and not result.findings:
            # Measured, but the policy chose not to judge it yet (`on_missing_baseline: skip`).
            result.verdict = "pass"
            result.reason = result.reason or f"nothing judged: check `{measured[0].name}`: {measured[0].note}"
        else:
            result.verdict = "pass"
            result.reason = result.reason or f"all {len(judged)} checks passed"
    elif deciding is not None:
        detail = f": {deciding.note}" if deciding.note else ""
        result.reason = f"check `{deciding.name}` is {deciding.verdict}{detail}"
    elif finding is not None:
        result.reason = f"finding {finding.rule_id} ({finding.severity}): {finding.message}"
    return result
