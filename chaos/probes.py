"""Probes of the steady state: a color answers its readiness check, and the jobs accepted before a
fault all finish."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg

from reelgate.chaos.stack import color_of, settings_for


def ready(color: str, configuration: dict[str, Any] | None = None) -> bool:
    """Whether `color`'s API answers `/health/ready` with 200."""
    settings = settings_for(configuration)
    try:
        url = f"http://127.0.0.1:{settings.port(color_of(color))}/health/ready"
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def unfinished_videos(configuration: dict[str, Any] | None = None) -> int:
    """Videos still queued or processing (every tenant's)."""
    settings = settings_for(configuration)
    with psycopg.connect(settings.db_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM videos WHERE status IN ('queued', 'processing')").fetchone()
    return int(row[0]) if row else 0


def all_jobs_finish(within_s: float = 60, configuration: dict[str, Any] | None = None) -> bool:
    """Whether every accepted video reaches `ready` or `failed` within `within_s` (0 stuck: none lost)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if unfinished_videos(configuration) == 0:
            return True
        time.sleep(0.5)
    return False
