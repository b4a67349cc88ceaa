"""The controllers' rules the integration tests rely on, checked on their own: expr-lang's semantics for the
shipped conditions and Argo's `EvaluateResult`, so a client that is wrong fails here first."""

from __future__ import annotations

import pytest

from tests.controllers.argo import WebMetric, _json_path, evaluate_result
from tests.controllers.expr import ExprError, condition, evaluate


def test_expr_member_access_nil_and_coalescing() -> None:
    env = {"response": {"status": 200, "body": {"run": {"verdict": "block", "reason": "slow"}}}}
    assert condition('response.status == 200 && response.body.run.verdict == "block"', env)
    assert evaluate("response.body.missing", env) is None  # a missing key of a map is nil
    with pytest.raises(ExprError, match="from <nil>"):
        evaluate("response.body.missing.verdict", env)
    assert evaluate("response.body.missing?.verdict ?? response.body.run.reason", env) == "slow"
    assert condition("response.status >= 400 && response.status < 500 || response.status in [200, 201]", env)
    assert condition("!(response.status != 200)", env)
    with pytest.raises(ExprError, match="expected bool"):
        condition("response.status", env)


def test_argo_failure_wins_and_neither_is_inconclusive() -> None:
    metric = WebMetric(
        url="x", success_condition='result.verdict == "promote"', failure_condition='result.verdict == "block"'
    )
    assert evaluate_result({"verdict": "promote"}, metric).phase == "Successful"
    assert evaluate_result({"verdict": "block"}, metric).phase == "Failed"
    assert evaluate_result({"verdict": None, "state": "running"}, metric).phase == "Inconclusive"
    assert evaluate_result(None, metric).phase == "Error"  # a field of nil cannot be evaluated
    only_success = WebMetric(url="x", success_condition='result.verdict == "promote"')
    assert evaluate_result({"verdict": None}, only_success).phase == "Failed"  # no failureCondition: not success


def test_json_path_finds_fields_or_says_which_is_missing() -> None:
    assert _json_path({"run": {"state": "running"}}, "{$.run}") == {"state": "running"}
    assert _json_path([1], "{$}") == [1]
    with pytest.raises(KeyError, match="run is not found"):
        _json_path({"detail": "x"}, "{$.run}")
