"""The cost model: what a video costs to process, keep and serve, at configurable prices.

Three prices, each a setting (defaults are public on-demand list prices; docs/cost.md says where
they come from):
- processing: ffmpeg's own CPU time (user + system, so vCPU-seconds) × `cost_per_cpu_second`;
- storage: the outputs' bytes kept for one month × `cost_per_gb_month`;
- egress: the bytes served so far (renditions, thumbnails, HLS segments) × `cost_per_egress_gb`.
"""

from __future__ import annotations

from typing import Any

import msgspec

GB = 1e9  # providers bill decimal gigabytes


class Cost(msgspec.Struct):
    processing: float
    storage: float
    egress: float
    total: float


def rates(settings: Any) -> dict[str, float]:
    return {
        "per_cpu_second": settings.cost_per_cpu_second,
        "per_gb_month": settings.cost_per_gb_month,
        "per_egress_gb": settings.cost_per_egress_gb,
    }


def cost_of(settings: Any, cpu_seconds: float, output_bytes: int, egress_bytes: int) -> Cost:
    processing = cpu_seconds * settings.cost_per_cpu_second
    storage = output_bytes / GB * settings.cost_per_gb_month
    egress = egress_bytes / GB * settings.cost_per_egress_gb
    return Cost(
        processing=round(processing, 9),
        storage=round(storage, 9),
        egress=round(egress, 9),
        total=round(processing + storage + egress, 9),
    )


def per_source_minute(total: float, source_seconds: float) -> float | None:
    """The cost spread over the source's minutes; None for a video with no known length."""
    return round(total / (source_seconds / 60), 9) if source_seconds > 0 else None
