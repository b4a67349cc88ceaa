"""Kargo's `http` promotion step (`pkg/promotion/runner/builtin/http_requester.go`): one request (10 s
timeout), then `failureExpression` (terminal Failed, its message from `errorExpression`), else
`successExpression` (Succeeded), else Running, polled again after `pollInterval`. The expressions see
`response.status`, `response.headers` and `response.body` (the parsed JSON, `{}` when empty)."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
import msgspec

from tests.controllers.expr import ExprError, condition, evaluate

StepStatus = Literal["Succeeded", "Failed", "Running", "Errored"]


class HttpStep(msgspec.Struct, kw_only=True):
    url: str
    method: str = "GET"
    headers: dict[str, str] = {}
    body: str = ""
    success_expression: str = ""
    failure_expression: str = ""
    error_expression: str = ""
    timeout: float = 10.0


def run_step(step: HttpStep) -> tuple[StepStatus, str]:
    try:
        with httpx.Client(timeout=step.timeout) as client:
            response = client.request(step.method, step.url, headers=step.headers, content=step.body or None)
    except httpx.HTTPError as exc:
        return "Errored", f"error sending HTTP request: {exc}"
    body: Any = {}
    if response.content:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = response.text
    env = {"response": {"status": response.status_code, "headers": dict(response.headers), "body": body}}
    try:
        success = condition(step.success_expression, env) if step.success_expression else None
        failure = condition(step.failure_expression, env) if step.failure_expression else None
    except ExprError as exc:
        return "Errored", f"error evaluating criteria: {exc}"
    if failure:
        message = ""
        if step.error_expression:
            try:
                found = evaluate(step.error_expression, env)
                message = found if isinstance(found, str) else ""
            except ExprError:
                message = ""
        text = f"HTTP ({response.status_code}) response met failure criteria"
        return "Failed", f"{text}: {message!r}" if message else text
    if success:
        return "Succeeded", ""
    if success is None and failure is None:
        return ("Succeeded", "") if 200 <= response.status_code < 300 else ("Failed", "")
    return "Running", ""
