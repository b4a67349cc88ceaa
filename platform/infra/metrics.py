"""Pipeline metrics. The API and the worker of a color share one
PROMETHEUS_MULTIPROC_DIR (set by the stack), so the API's /metrics also
shows what its worker measured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import msgspec
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
# Backups (docs/operations.md; deploy/prometheus/backup-alerts.yaml alerts on them), when backup_dir is set.
BACKUP_LAST = Gauge(
    "reelgate_backup_last_success_timestamp_seconds",
    "When the last `reelgate backup run` finished (0: never)",
    multiprocess_mode="livemax",
)
MEDIA_LAST = Gauge(
    "reelgate_media_snapshot_last_success_timestamp_seconds",
    "When the last media snapshot finished (`reelgate backup run`, with or without --media-only; 0: never)",
    multiprocess_mode="livemax",
)
WAL_ARCHIVED = Gauge(
    "reelgate_wal_last_archived_timestamp_seconds",
    "When PostgreSQL last archived a WAL segment to the backup repository (0: never)",
    multiprocess_mode="livemax",
)
WAL_FAILING = Gauge(
    "reelgate_wal_archive_failing", "1 while PostgreSQL's newest archive attempt failed", multiprocess_mode="livemax"
)
ARCHIVER_SQL = (
    "SELECT coalesce(extract(epoch FROM last_archived_time), 0)::float8,"
    " coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) FROM pg_stat_archiver"
)


def _last_backup(last_run: Path) -> float:
    return float(msgspec.json.decode(last_run.read_bytes()).get("finished_at_epoch", 0)) if last_run.exists() else 0.0


async def _backup_gauges(conn: Any, last_run: Path) -> None:
    BACKUP_LAST.set(await asyncio.to_thread(_last_backup, last_run))
    MEDIA_LAST.set(await asyncio.to_thread(_last_backup, last_run.with_name("media.json")))
    archived, failing = await (await conn.execute(ARCHIVER_SQL)).fetchone()
    WAL_ARCHIVED.set(archived)
    WAL_FAILING.set(1 if failing else 0)


async def watch_queue_depth(pool: AsyncConnectionPool[Any], backups: Path | None = None) -> None:
    """Refresh the queue depth gauge (and, with `backups`, the last backup's status file, the backup gauges)
    until cancelled."""
    seen: set[tuple[str, str]] = set()
    while True:
        if backups is not None:
            with contextlib.suppress(Exception):
                async with pool.connection() as conn:
                    await _backup_gauges(conn, backups)
        with contextlib.suppress(Exception):
            async with pool.connection() as conn:
                now = await repo.queue_depths(conn)
            # Multiprocess gauges keep their last value in a file: empty queues are set to 0, not dropped.
            for queue, status in seen | set(now):
                QUEUE_DEPTH.labels(queue=queue, status=status).set(now.get((queue, status), 0))
            seen |= set(now)
        await asyncio.sleep(QUEUE_EVERY_S)
