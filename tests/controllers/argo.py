"""Argo Rollouts' `web` metric provider and the analysis loop around it, rule by rule:

- `metricproviders/webmetric/webmetric.go`: GET unless told otherwise; a JSON body only with POST/PUT; the
  whole exchange within 10 s; a non-2xx is an Error and its body is dropped; a 2xx body is parsed as JSON (or
  taken as a string), then `jsonPath` (default `{$}`); no value is an Error.
- `utils/evaluate/evaluate.go`: `failureCondition` wins; neither condition true is Inconclusive; a condition
  that cannot be evaluated (a field of nil) is an Error.
- `analysis/analysis.go` (`assessMetricStatus`, `assessMetricFailureInconclusiveOrError`): an Error does not
  count towards `count`; more than `consecutiveErrorLimit` (default 4) Errors in a row end the metric Error;
  more Failed than `failureLimit` is Failed, more Inconclusive than `inconclusiveLimit` is Inconclusive;
  `consecutiveSuccessLimit` Successes in a row end it Successful; at `count` with both limits it is
  Inconclusive. After an Error the next measurement comes after `DefaultErrorRetryInterval` (10 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
import msgspec

from tests.controllers.expr import ExprError, condition

Phase = Literal["Successful", "Failed", "Inconclusive", "Error"]


class WebMetric(msgspec.Struct, kw_only=True):
    url: str
    method: str = "GET"
    headers: dict[str, str] = {}
    json_body: Any = None
    json_path: str = "{$}"
    timeout: float = 10.0
    success_condition: str = ""
    failure_condition: str = ""


class Measurement(msgspec.Struct, kw_only=True):
    phase: Phase
    value: str = ""
    message: str = ""


def _json_path(data: Any, path: str) -> Any:
    """The k8s JSONPath forms the templates use: `{$}` and `{$.a.b}`; a missing field raises KeyError."""
    inner = path.strip()[1:-1].strip()
    if inner in ("$", ""):
        return data
    for part in inner.removeprefix("$.").split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(f"{part} is not found")
        data = data[part]
    return data


def evaluate_result(result: Any, metric: WebMetric) -> Measurement:
    """`evaluate.EvaluateResult`."""
    success = failure = False
    try:
        if metric.success_condition:
            success = condition(metric.success_condition, {"result": result})
        if metric.failure_condition:
            failure = condition(metric.failure_condition, {"result": result})
    except ExprError as exc:
        return Measurement(phase="Error", message=f"could not evaluate: {exc}")
    if not metric.success_condition and not metric.failure_condition:
        return Measurement(phase="Successful")
    if metric.success_condition and not metric.failure_condition:
        failure = not success
    if metric.failure_condition and not metric.success_condition:
        success = not failure
    if failure:
        return Measurement(phase="Failed")
    return Measurement(phase="Successful" if success else "Inconclusive")


def measure(metric: WebMetric) -> Measurement:
    """`Provider.Run` of the web metric provider."""
    if metric.json_body is not None and metric.method == "GET":
        return Measurement(phase="Error", message="Body/JSONBody can only be used with POST or PUT")
    try:
        with httpx.Client(timeout=metric.timeout) as client:
            response = client.request(metric.method, metric.url, headers=metric.headers, json=metric.json_body)
    except httpx.HTTPError as exc:
        return Measurement(phase="Error", message=f"{type(exc).__name__}: {exc}")
    if not 200 <= response.status_code < 300:
        return Measurement(phase="Error", message=f"received non 2xx response code: {response.status_code}")
    try:
        data = json.loads(response.content)
    except ValueError:
        raw = response.text
        return msgspec.structs.replace(evaluate_result(raw, metric), value=raw)
    try:
        value = _json_path(data, metric.json_path)
    except KeyError as exc:
        return Measurement(phase="Error", message=f"Could not find JSONPath in body: {exc}")
    if value is None:
        return Measurement(phase="Error", message="result of web metric produced no value")
    return msgspec.structs.replace(evaluate_result(value, metric), value=json.dumps(value))


class Analysis(msgspec.Struct, kw_only=True):
    """A metric's limits, as in an AnalysisTemplate."""

    interval: float
    count: int | None = None
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4
    consecutive_success_limit: int = 0
    error_retry_interval: float = 10.0
    """`DefaultErrorRetryInterval`; a test may shorten it and `interval` by the same factor."""


class AnalysisResult(msgspec.Struct, kw_only=True):
    phase: Phase
    message: str
    measurements: list[Measurement]


def run_analysis(analysis: Analysis, metric: WebMetric, sleep: Callable[[float], None] = time.sleep) -> AnalysisResult:
    """Measure until `assessMetricStatus` says the metric is complete."""
    taken: list[Measurement] = []
    count = failed = inconclusive = consecutive_error = consecutive_success = 0
    while True:
        m = measure(metric)
        taken.append(m)
        if m.phase == "Error":
            consecutive_error += 1
            consecutive_success = 0
        else:
            count += 1
            consecutive_error = 0
            failed += m.phase == "Failed"
            inconclusive += m.phase == "Inconclusive"
            consecutive_success = consecutive_success + 1 if m.phase == "Successful" else 0
        # assessMetricFailureInconclusiveOrError: a later rule overrides an earlier one
        verdict: tuple[Phase, str] | None = None
        if analysis.failure_limit >= 0 and failed > analysis.failure_limit:
            verdict = ("Failed", f"failed ({failed}) > failureLimit ({analysis.failure_limit})")
        if inconclusive > analysis.inconclusive_limit:
            verdict = ("Inconclusive", f"inconclusive ({inconclusive}) > inconclusiveLimit")
        if consecutive_error > analysis.consecutive_error_limit:
            verdict = ("Error", f"consecutiveErrors ({consecutive_error}) > consecutiveErrorLimit")
        if verdict is None and 0 < analysis.consecutive_success_limit <= consecutive_success:
            verdict = ("Successful", "ConsecutiveSuccessLimit reached")
        if verdict is None and analysis.count is not None and count >= analysis.count:
            if analysis.consecutive_success_limit > 0:
                limited = analysis.failure_limit >= 0
                verdict = ("Inconclusive" if limited else "Failed", "count reached, ConsecutiveSuccessLimit not")
            else:
                verdict = ("Successful", "count reached")
        if verdict is not None:
            return AnalysisResult(phase=verdict[0], message=verdict[1], measurements=taken)
        sleep(analysis.error_retry_interval if m.phase == "Error" else analysis.interval)
