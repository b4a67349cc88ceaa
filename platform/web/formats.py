"""How numbers read on the pages: sizes, durations, money, and the usage chart's bars."""

from __future__ import annotations

from datetime import datetime

import msgspec

from reelgate.platform.http.schemas import Usage

CHART_BARS = 10
CHART_WIDTH = 360  # pixels of the longest bar


def size(num: int | float | None) -> str:
    if num is None:
        return "—"
    if num < 1000:
        return f"{num:.0f} bytes"
    value, unit = float(num) / 1000, "KB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def minutes(seconds: float) -> str:
    """Minutes with two decimals, so a few seconds of video does not read as none."""
    if 0 < seconds < 0.3:
        return "< 0.01"
    return f"{seconds / 60:,.2f}"


def money(amount: float, currency: str = "USD") -> str:
    """Cents for real money; enough digits that a few seconds of processing do not read as zero."""
    if amount >= 1:
        return f"{amount:,.2f} {currency}"
    if 0 < amount < 0.000001:
        return f"< 0.000001 {currency}"
    return f"{amount:.6f}".rstrip("0").rstrip(".") + f" {currency}" if amount else f"0 {currency}"


def rate(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


class Bar(msgspec.Struct):
    label: str
    value: float
    text: str
    width: float


def usage_chart(usage: Usage) -> list[Bar]:
    """The most expensive videos as horizontal bars, scaled to the largest.

    Each bar is a bare SVG rectangle (no inline style, which the CSP forbids); its label and value are
    HTML text beside it, so they read as a list and their contrast can be checked."""
    top = sorted(usage.per_video, key=lambda v: v.cost_estimate, reverse=True)[:CHART_BARS]
    largest = max((v.cost_estimate for v in top), default=0.0) or 1.0
    return [
        Bar(
            label=(v.title or str(v.id))[:40],
            value=v.cost_estimate,
            text=money(v.cost_estimate, usage.currency),
            width=max(1.0, round(v.cost_estimate / largest * CHART_WIDTH, 1)),
        )
        for v in top
    ]
