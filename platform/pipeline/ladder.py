"""Rendition ladder planning: which sizes to make from a source, never upscaling.

Planning works on the *displayed* picture: a phone clip stored 1920x1080 with
a 90° rotation displays as 1080x1920, and ffmpeg's autorotate hands the filter
graph the displayed frames. Rungs are by the short side, so portrait and
landscape sources of the same quality get the same rungs.
"""

from __future__ import annotations

import msgspec

# Video bitrate cap per rung (kbit/s); scaled for rungs not listed.
BITRATES_KBPS = {2160: 14000, 1440: 8000, 1080: 5000, 720: 2800, 480: 1400, 360: 800, 240: 400}
AUDIO_KBPS = 128


class Rung(msgspec.Struct, frozen=True):
    name: str
    width: int
    height: int
    max_kbps: int


def _even(value: float) -> int:
    """H.264 in yuv420p needs even dimensions; round to the nearest even number, at least 2."""
    return max(2, int(round(value / 2.0)) * 2)


def displayed_size(width: int, height: int, rotation: float) -> tuple[int, int]:
    """The size a player shows: width and height swap for a quarter turn."""
    if int(round(rotation)) % 180 == 90 or int(round(rotation)) % 180 == -90:
        return height, width
    return width, height


def bitrate_for(short_side: int) -> int:
    if short_side in BITRATES_KBPS:
        return BITRATES_KBPS[short_side]
    # Bits scale roughly with pixel count; anchor on 360p.
    return max(150, int(BITRATES_KBPS[360] * (short_side / 360) ** 2))


def plan(width: int, height: int, rungs: list[int]) -> list[Rung]:
    """Rungs no taller than the source's short side, largest first.

    A source below the lowest rung gets one rendition at its own even size.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid picture size {width}x{height}")
    short, long_ = min(width, height), max(width, height)
    portrait = height > width
    chosen = sorted({r for r in rungs if 0 < r <= short}, reverse=True)
    if not chosen:
        w, h = _even(width), _even(height)
        return [Rung(name=f"{min(w, h)}p", width=w, height=h, max_kbps=bitrate_for(min(w, h)))]
    result = []
    for rung in chosen:
        other = _even(long_ * rung / short)
        w, h = (rung, other) if portrait else (other, rung)
        result.append(Rung(name=f"{rung}p", width=w, height=h, max_kbps=bitrate_for(rung)))
    return result


def ladder_key(rungs: list[int], hls: bool = False, mp4: bool = True) -> str:
    """Identifies the ladder setting, so a changed ladder (or HLS turned on, or MP4 off) never reuses
    old outputs."""
    kind = "h264-aac-hls-v2:" if hls and mp4 else "h264-aac-hls-only-v1:" if hls else "h264-aac-v1:"
    return kind + ",".join(str(r) for r in sorted(set(rungs), reverse=True))
