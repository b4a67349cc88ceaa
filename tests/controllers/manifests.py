"""The manifests reelgate ships (`deploy/`), read as the controllers read them: Argo's `{{args.x}}` and
Kargo's `${{ ... }}` filled in, then turned into the clients' settings. The tests drive the clients from the
shipped files, so a condition that does not work fails a test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.controllers.argo import Analysis, WebMetric
from tests.controllers.kargo import HttpStep

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _seconds(text: str) -> float:
    return float(text.removesuffix("s"))


def _fill(value: Any, pattern: str, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(pattern, lambda m: values[m.group(1).strip()], value)
    if isinstance(value, dict):
        return {k: _fill(v, pattern, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, pattern, values) for v in value]
    return value


def argo_metric(args: dict[str, str], scale: float = 1.0) -> tuple[Analysis, WebMetric]:
    """The `reelgate` AnalysisTemplate's metric with `args` (each template default applies unless given);
    `scale` shortens the intervals (10 s becomes 10*scale s) so a test does not wait for minutes."""
    template = next(d for d in YAML(typ="safe").load_all(DEPLOY / "argo-rollouts/analysistemplate.yaml"))
    defaults = {a["name"]: a.get("value", "") for a in template["spec"]["args"]}
    metric = _fill(template["spec"]["metrics"][0], r"\{\{args\.([\w-]+)\}\}", defaults | args)
    web = metric["provider"]["web"]
    analysis = Analysis(
        interval=_seconds(metric["interval"]) * scale,
        count=metric.get("count"),
        failure_limit=metric.get("failureLimit", 0),
        inconclusive_limit=metric.get("inconclusiveLimit", 0),
        consecutive_error_limit=metric.get("consecutiveErrorLimit", 4),
        consecutive_success_limit=metric.get("consecutiveSuccessLimit", 0),
        error_retry_interval=10 * scale,
    )
    return analysis, WebMetric(
        url=web["url"],
        method=web.get("method", "GET"),
        headers={h["key"]: h["value"] for h in web.get("headers", [])},
        json_body=web.get("jsonBody"),
        json_path=web.get("jsonPath", "{$}"),
        timeout=float(web.get("timeoutSeconds", 10)),
        success_condition=metric.get("successCondition", ""),
        failure_condition=metric.get("failureCondition", ""),
    )


def kargo_step(values: dict[str, str]) -> HttpStep:
    """The Stage's `http` step, its `${{ ... }}` expressions replaced by `values` (keyed by their text)."""
    stage = YAML(typ="safe").load(DEPLOY / "kargo/stage.yaml")
    step = next(s for s in stage["spec"]["promotionTemplate"]["spec"]["steps"] if s.get("uses") == "http")
    config = _fill(step["config"], r"\$\{\{(.+?)\}\}", values)
    return HttpStep(
        url=config["url"],
        method=config.get("method", "GET"),
        headers={h["name"]: h["value"] for h in config.get("headers", [])},
        body=config.get("body", ""),
        success_expression=config.get("successExpression", ""),
        failure_expression=config.get("failureExpression", ""),
        error_expression=config.get("errorExpression", ""),
        timeout=_seconds(config.get("timeout", "10s")),
    )


def flagger_hooks() -> dict[str, dict[str, Any]]:
    """The Canary's webhooks by type, with their URL path, metadata keys and retries."""
    canary = YAML(typ="safe").load(DEPLOY / "flagger/canary.yaml")
    return {h["type"]: h for h in canary["spec"]["analysis"]["webhooks"]}
