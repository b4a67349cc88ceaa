"""The release's charts as inline SVG (no script, readable by a screen reader through their titles): the
timeline of a release (gates as bars, key events as lines), a gate's latency bars and its series over time,
and the watch's samples. The HTML report and the dashboard draw the same charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from reelgate.gates.model import Event, GateResult


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


def timeline_chart(results: list[GateResult], timeline: list[Event]) -> str:
    """Gates as bars on one time axis from the release's first event to its last, key events as marks."""
    gates = [r for r in results if r.started_at is not None]
    moments: list[datetime] = [e.at for e in timeline]
    for r in gates:
        assert r.started_at is not None
        moments.append(r.started_at)
    if not moments:
        return ""
    start = min(moments)
    end = max([*moments, *(_end(r) for r in gates)])
    span = max((end - start).total_seconds(), 1.0)
    left, width, row = 170, 620, 22
    marks = [e for e in timeline if e.kind in MARKS]
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


def watch_chart(samples: list[dict[str, Any]]) -> str:
    """The watch's samples: p95 latency (ms) per sample as a line, a failed sample as a red mark."""
    points = [(int(s.get("number", i + 1)), s.get("p95_ms"), bool(s.get("ok"))) for i, s in enumerate(samples)]
    if not points:
        return ""
    left, width, height, pad = 60, 560, 140, 10
    last = max(n for n, _, _ in points) or 1
    top = max((v for _, v, _ in points if v is not None), default=0.0) or 1.0

    def xy(number: int, value: float) -> str:
        return f"{left + width * number / last:.1f},{pad + height - height * value / top:.1f}"

    line = " ".join(xy(n, v) for n, v, _ in points if v is not None)
    parts = [
        f'<svg role="img" aria-labelledby="watch-title" viewBox="0 0 {left + width + 20} {height + 36}" '
        f'width="{left + width + 20}" height="{height + 36}" xmlns="http://www.w3.org/2000/svg">',
        '<title id="watch-title">p95 latency of the new live color at each sample of the watch</title>',
        f'<line x1="{left}" y1="{pad + height}" x2="{left + width}" y2="{pad + height}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{pad + 10}" font-size="11" text-anchor="end">{top:g} ms</text>',
        f'<text x="{left - 4}" y="{pad + height}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{left + width}" y="{pad + height + 16}" font-size="11" text-anchor="end">sample {last}</text>',
    ]
    if line:
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1f4e79" stroke-width="2"/>')
    for number, _, ok in points:
        if not ok:
            x = left + width * number / last
            parts.append(
                f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{pad + height}" stroke="#b00020" stroke-width="2">'
                f"<title>sample {number} failed</title></line>"
            )
    parts.append("</svg>")
    return "".join(parts)
