"""Parsing ffmpeg's `-progress pipe:1` blocks and `-benchmark` lines."""

from __future__ import annotations

import re

import msgspec


class Progress(msgspec.Struct):
    out_time_s: float = 0.0
    speed: float | None = None
    frame: int = 0
    done: bool = False


class ProgressParser:
    """Feed it lines; it returns a Progress at the end of each block.

    `out_time_ms` is, despite its name, in microseconds (as is `out_time_us`),
    and is `N/A` before the first frame is written.
    """

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._fields[key] = value.strip()
        if key != "progress":
            return None
        fields, self._fields = self._fields, {}
        return Progress(
            out_time_s=_micros(fields.get("out_time_us") or fields.get("out_time_ms")),
            speed=_speed(fields.get("speed")),
            frame=_int(fields.get("frame")),
            done=value.strip() == "end",
        )


def _micros(raw: str | None) -> float:
    try:
        return max(0.0, int(raw or "") / 1_000_000)
    except ValueError:
        return 0.0


def _speed(raw: str | None) -> float | None:
    try:
        return float((raw or "").rstrip("x"))
    except ValueError:
        return None


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


_BENCH = re.compile(r"bench:\s+utime=([\d.]+)s\s+stime=([\d.]+)s")


def cpu_seconds(stderr_lines: list[str]) -> float:
    """User + system CPU time from ffmpeg's final `bench:` line (0 if absent)."""
    for line in reversed(stderr_lines):
        match = _BENCH.search(line)
        if match:
            return float(match.group(1)) + float(match.group(2))
    return 0.0


def fraction(progress: Progress, duration_s: float | None) -> float:
    if progress.done:
        return 1.0
    if not duration_s or duration_s <= 0:
        return 0.0
    return min(0.99, progress.out_time_s / duration_s)
