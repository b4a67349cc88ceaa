"""`html`: one self-contained page (no external assets, readable with JavaScript off): the decision,
a chart of the release on a time axis (gates as bars; deploy, switch, watch and switch-back marked),
candidate against baseline for every baseline rule, each gate's checks and findings with a latency
chart, and the artefacts linked by relative path. Charts are inline SVG."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

from reelgate.gates.api import hookimpl
from reelgate.gates.charts import latency_chart, series_chart, timeline_chart
from reelgate.gates.model import GateResult, Report

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eee}table{table-layout:auto}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}
.pass{color:#0b6e0b}.warn{color:#8a5a00}.fail,.error{color:#b00020}.skipped{color:#555}
.banner{padding:1rem;border-radius:.4rem;font-size:1.1rem}.promote{background:#e3f4e3}.block{background:#fbe3e6}
ol.timeline{padding-left:1.2rem}code{background:#f3f3f3;padding:0 .2rem}
@media (prefers-reduced-motion:reduce){*{transition:none!important}}
"""


def baselines_table(report: Report) -> str:
    """Candidate against baseline for every check that has one, across gates."""
    rows = "".join(
        f"<tr><td>{escape(r.gate)}</td><td>{escape(c.name)}</td><td class='num'>{c.value:g} {escape(c.unit)}</td>"
        f"<td class='num'>{c.baseline:g} {escape(c.unit)}</td><td class='num'>{c.delta or 0:+g}</td>"
        f"<td class='{c.verdict}'>{c.verdict}</td></tr>"
        for r in report.results
        for c in r.checks
        if c.baseline is not None and c.value is not None
    )
    if not rows:
        return ""
    return (
        "<h2>Candidate against baseline</h2><table><tr><th scope='col'>gate</th><th scope='col'>check</th>"
        "<th scope='col'>candidate</th><th scope='col'>baseline</th><th scope='col'>delta</th>"
        f"<th scope='col'>verdict</th></tr>{rows}</table>"
    )


def _artifact_link(artifact: str, folder: Path) -> str:
    """A link relative to the report's folder, so the release's folder can be moved or served as it is."""
    try:
        href = os.path.relpath(artifact, folder)
    except ValueError:
        href = artifact
    return f"<li><a href='{escape(href)}'><code>{escape(href)}</code></a></li>"


def _help_link(url: str) -> str:
    return f'<a href="{escape(url)}">help</a>' if url else ""


def _gate_section(result: GateResult, folder: Path) -> str:
    rows = "".join(
        f"<tr><td>{escape(c.name)}</td><td>{'—' if c.value is None else f'{c.value:g} {escape(c.unit)}'}</td>"
        f"<td>{escape(c.op or '')} {'' if c.threshold is None else f'{c.threshold:g}'}</td>"
        f"<td>{'' if c.baseline is None else f'{c.baseline:g}'}</td>"
        f"<td class='{c.verdict}'>{c.verdict}</td><td>{escape(c.note or c.waived_by or '')}</td></tr>"
        for c in result.checks
    )
    checks = (
        (
            f"<table><caption>Checks</caption><tr><th scope='col'>check</th><th scope='col'>value</th>"
            f"<th scope='col'>limit</th><th scope='col'>baseline</th><th scope='col'>verdict</th>"
            f"<th scope='col'>note</th></tr>{rows}</table>"
        )
        if rows
        else ""
    )
    found = "".join(
        f"<tr><td>{escape(f.rule_id)}</td><td>{escape(f.severity)}</td><td>{escape(f.message)}</td>"
        f"<td>{escape(f.location)}</td><td>{_help_link(f.help_url)}</td></tr>"
        for f in result.findings
    )
    findings = (
        (
            f"<table><caption>Findings</caption><tr><th scope='col'>rule</th><th scope='col'>severity</th>"
            f"<th scope='col'>message</th><th scope='col'>location</th><th scope='col'>help</th></tr>"
            f"{found}</table>"
        )
        if found
        else ""
    )
    artifacts = "".join(_artifact_link(a, folder) for a in result.artifacts)
    return (
        f"<section aria-labelledby='g-{escape(result.gate)}'><h2 id='g-{escape(result.gate)}'>"
        f"{escape(result.gate)} <small>({escape(result.uses)}, {result.phase}, "
        f"{'required' if result.required else 'advisory'})</small></h2>"
        f"<p class='{result.verdict}'><strong>{result.verdict}</strong>: {escape(result.reason)} "
        f"({result.duration_s:.1f} s, {result.attempts} attempt{'s' if result.attempts != 1 else ''})</p>"
        f"{latency_chart(result)}{series_chart(result)}{checks}{findings}"
        f"{f'<details><summary>Artifacts</summary><ul>{artifacts}</ul></details>' if artifacts else ''}</section>"
    )


class HtmlReporter:
    name = "html"
    suffix = ".html"

    def write(self, report: Report, path: Path) -> None:
        decision = report.decision
        banner = (
            (
                f"<p class='banner {decision.outcome}'><strong>{decision.outcome.upper()}</strong>: "
                f"{escape(decision.reason)}</p>"
            )
            if decision
            else f"<p>State: {escape(report.state)}</p>"
        )
        timeline = "".join(
            f"<li><time datetime='{e.at.isoformat()}'>{e.at:%H:%M:%S}</time> <strong>{escape(e.kind)}</strong> "
            f"{escape(e.message)} <small>({escape(e.actor)})</small></li>"
            for e in report.timeline
        )
        body = "".join(_gate_section(r, path.parent) for r in report.results)
        page = (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>reelgate release {escape(report.release_id)}</title><style>{STYLE}</style></head>"
            f"<body><main><h1>Release {escape(report.release_id)}: {escape(report.candidate)}</h1>{banner}"
            f"<p>Policy <code>{escape(report.policy)}</code>; state <code>{escape(report.state)}</code>.</p>"
            f"<h2>Timeline</h2>{timeline_chart(report.results, report.timeline)}"
            f"<details><summary>Every event</summary><ol class='timeline'>{timeline or '<li>no events</li>'}</ol>"
            f"</details>{baselines_table(report)}{body}</main></body></html>\n"
        )
        path.write_text(page)


@hookimpl
def register_reporters(register: Any) -> None:
    register(HtmlReporter)
