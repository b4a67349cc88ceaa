"""Pipeline metrics. The API and the worker of a color share one
PROMETHEUS_MULTIPROC_DIR (set by the stack), so the API's /metrics also
shows what its worker measured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from psycopg_pool import AsyncConnectionPool

from reelgate.platform import repo

log = logging.getLogger("reelgate.platform.infra.metrics")

JOB_SECONDS = Histogram(
    "reelgate_transcode_seconds",
    "Wall time of one transcode attempt",
    ["outcome"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
VIDEOS = Counter("reelgate_videos_finished", "Videos that reached a final state", ["status"])
QUEUE_DEPTH = Gauge(
    "reelgate_queue_jobs",
    "Jobs waiting or running, by queue and status",
    ["queue", "status"],
    multiprocess_mode="livemax",
)
QUEUE_EVERY_S = 5.0


async def watch_queue_depth(pool: AsyncConnectionPool[Any]) -> None:
    """Refresh the queue depth gauge until cancelled."""
    seen: set[tuple[str, str]] = set()
    while True:
        with contextlib.suppress(Exception):
            async with pool.connection() as conn:
                now = await repo.queue_depths(conn)
            # Multiprocess gauges keep their last value in a file: empty queues are set to 0, not dropped.
            for queue, status in seen | set(now):
                QUEUE_DEPTH.labels(queue=queue, status=status).set(now.get((queue, status), 0))
            seen |= set(now)
        await asyncio.sleep(QUEUE_EVERY_S)
