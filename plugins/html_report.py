"""`html`: one self-contained page (no external assets, readable with JavaScript off): the decision,
a chart of the release on a time axis (gates as bars; deploy, switch, watch and switch-back marked),
candidate against baseline for every baseline rule, each gate's checks and findings with a latency
chart, and the artefacts linked by relative path. Charts are inline SVG."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from reelgate.gates.api import hookimpl
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


def latency_chart(result: GateResult) -> str:
    """Bars for p50/p95/p99 (ms), with the baseline's as lighter bars when measured."""
    names = ("p50_ms", "p95_ms", "p99_ms")
    values = {c.name: c for c in result.checks}
    bars = [(n, values[n].value, values[n].baseline) for n in names if n in values and values[n].value is not None]
    if not bars:
        return ""
    top = max(max(v or 0, b or 0) for _, v, b in bars) or 1.0
    width, row = 480, 34
    parts = [
        f'<svg role="img" aria-labelledby="t-{escape(result.gate)}" width="{width + 160}" '
        f'height="{row * len(bars) + 10}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{escape(result.gate)}">Latency of {escape(result.gate)} in milliseconds</title>',
    ]
    for i, (name, value, baseline) in enumerate(bars):
        y = 5 + i * row
        parts.append(f'<text x="0" y="{y + 18}" font-size="14">{name[:-3]}</text>')
        if baseline is not None:
            parts.append(
                f'<rect x="50" y="{y + 14}" width="{width * baseline / top:.1f}" height="10" fill="#9bb7d4">'
                f"<title>baseline {baseline:g} ms</title></rect>"
            )
        parts.append(
            f'<rect x="50" y="{y + 2}" width="{width * (value or 0) / top:.1f}" height="12" '
            f'fill="#1f4e79"><title>{value:g} ms</title></rect>'
        )
        parts.append(f'<text x="{width + 60}" y="{y + 14}" font-size="13">{value:g} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


# Events drawn as marks on the timeline chart, with their colour.
MARKS = {
    "deploying": "#555",
    "deployed": "#555",
    "switching": "#1f4e79",
    "watching": "#0b6e0b",
    "watch": "#0b6e0b",
    "switched-back": "#b00020",
    "rolled_back": "#b00020",
    "promoted": "#0b6e0b",
    "blocked": "#b00020",
}
VERDICT_FILL = {"pass": "#2e7d32", "warn": "#b26a00", "fail": "#b00020", "error": "#b00020", "skipped": "#888"}


def timeline_chart(report: Report) -> str:
    """Gates as bars on one time axis from the release's first event to its last, key events as marks."""
    gates = [r for r in report.results if r.started_at is not None]
    moments: list[datetime] = [e.at for e in report.timeline]
    for r in gates:
        assert r.started_at is not None
        moments.append(r.started_at)
    if not moments:
        return ""
    start = min(moments)
    end = max([*moments, *(_end(r) for r in gates)])
    span = max((end - start).total_seconds(), 1.0)
    left, width, row = 170, 620, 22
    marks = [e for e in report.timeline if e.kind in MARKS]
    height = 44 + row * len(gates) + 20

    def x(moment: datetime) -> float:
        return left + width * (moment - start).total_seconds() / span

    parts = [
        f'<svg role="img" aria-labelledby="timeline-title" viewBox="0 0 {left + width + 100} {height}" '
        f'width="{left + width + 100}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        '<title id="timeline-title">The release on a time axis: each gate as a bar, key events as lines</title>',
    ]
    for tick in range(0, 6):
        seconds = span * tick / 5
        tx = left + width * tick / 5
        parts.append(f'<line x1="{tx:.1f}" y1="20" x2="{tx:.1f}" y2="{height - 18}" stroke="#ddd"/>')
        parts.append(f'<text x="{tx:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">{seconds:.0f} s</text>')
    for i, mark in enumerate(marks):
        mx = x(mark.at)
        parts.append(
            f'<line x1="{mx:.1f}" y1="2" x2="{mx:.1f}" y2="{height - 18}" stroke="{MARKS[mark.kind]}" '
            f'stroke-dasharray="4 3"><title>{escape(mark.kind)} at {mark.at:%H:%M:%S}: '
            f"{escape(mark.message)}</title></line>"
        )
        parts.append(
            f'<text x="{mx + 2:.1f}" y="{9 + (i % 3) * 9}" font-size="9" fill="{MARKS[mark.kind]}">'
            f"{escape(mark.kind)}</text>"
        )
    for i, r in enumerate(gates):
        assert r.started_at is not None
        y = 34 + i * row
        bar = max(width * r.duration_s / span, 2.0)
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(r.gate[:22])} ({r.phase})</text>')
        parts.append(
            f'<rect x="{x(r.started_at):.1f}" y="{y}" width="{bar:.1f}" height="16" fill="{VERDICT_FILL[r.verdict]}">'
            f"<title>{escape(r.gate)}: {r.verdict}, {r.duration_s:.1f} s</title></rect>"
        )
    parts.append("</svg>")
    legend = ", ".join(f"{kind}" for kind in dict.fromkeys(m.kind for m in marks))
    return "".join(parts) + (f"<p><small>Marked: {escape(legend)}.</small></p>" if legend else "")


def _end(result: GateResult) -> datetime:
    assert result.started_at is not None
    return result.started_at + timedelta(seconds=result.duration_s)


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


SERIES_STROKE = {"candidate": ("#1f4e79", ""), "live": ("#6a8caf", "6 3")}


def series_chart(result: GateResult) -> str:
    """Each series over time as a line (the candidate solid, live dashed), e.g. k6's p95 per second."""
    series = [s for s in result.series if s.points]
    if not series:
        return ""
    left, width, height, top_pad = 60, 560, 180, 10
    last = max(p[0] for s in series for p in s.points) or 1.0
    top = max(p[1] for s in series for p in s.points) or 1.0
    unit = series[0].unit
    title = f"{series[0].name} over time, {' and '.join(s.label for s in series)}"
    ident = f"s-{escape(result.gate)}"
    parts = [
        f'<svg role="img" aria-labelledby="{ident}" viewBox="0 0 {left + width + 110} {height + 40}" '
        f'width="{left + width + 110}" height="{height + 40}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}">{escape(title)} ({escape(unit)})</title>',
        f'<line x1="{left}" y1="{top_pad + height}" x2="{left + width}" y2="{top_pad + height}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + height}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top_pad + 10}" font-size="11" text-anchor="end">{top:g}</text>',
        f'<text x="{left - 4}" y="{top_pad + height}" font-size="11" text-anchor="end">0 {escape(unit)}</text>',
        f'<text x="{left + width}" y="{top_pad + height + 16}" font-size="11" text-anchor="end">{last:g} s</text>',
    ]
    for i, s in enumerate(series):
        colour, dash = SERIES_STROKE.get(s.label, ("#333", ""))
        points = " ".join(
            f"{left + width * t / last:.1f},{top_pad + height - height * v / top:.1f}" for t, v in s.points
        )
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>')
        parts.append(
            f'<text x="{left + width + 8}" y="{top_pad + 14 + 16 * i}" font-size="12" fill="{colour}">'
            f"{escape(s.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


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
            f"<h2>Timeline</h2>{timeline_chart(report)}"
            f"<details><summary>Every event</summary><ol class='timeline'>{timeline or '<li>no events</li>'}</ol>"
            f"</details>{baselines_table(report)}{body}</main></body></html>\n"
        )
        path.write_text(page)


@hookimpl
def register_reporters(register: Any) -> None:
    register(HtmlReporter)
