"""The job queue (procrastinate on the platform's PostgreSQL) and the transcode task.

Each color's worker consumes only its own queue (`transcode.<color>`), plus
the shared maintenance queue. A worker heartbeats every `heartbeat_s`; a
periodic task puts back jobs whose worker stopped heartbeating, so a worker
killed with SIGKILL costs a few seconds, not a video.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
from procrastinate import App, PsycopgConnector
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from reelgate.platform import repo
from reelgate.platform.infra.kv import KV, video_channel, video_key
from reelgate.platform.infra.metrics import JOB_SECONDS, VIDEOS, watch_queue_depth
from reelgate.platform.pipeline import ladder, transcode
from reelgate.platform.pipeline.media import MediaStore, storage_full
from reelgate.platform.pipeline.probe import InvalidMedia, ToolMissing, probe
from reelgate.platform.pipeline.progress import Progress, fraction
from reelgate.platform.settings import get_settings

log = logging.getLogger("reelgate.platform.pipeline.jobs")

MAINTENANCE_QUEUE = "maintenance"
# A transcode may run for this many times the source's duration (plus a floor) before it is failed.
TIMEOUT_FACTOR, TIMEOUT_FLOOR_S = 20, 120
PROGRESS_EVERY_S = 0.5

app = App(connector=PsycopgConnector())


class Event(msgspec.Struct, omit_defaults=True):
    status: str
    progress: float
    failure_reason: str | None = None


queue_for = repo.queue_for


@app.task(name="transcode_video", pass_context=False, retry=2)
async def transcode_video(video_id: str) -> None:
    """Process one video. Bad input ends `failed` and is not retried; infrastructure errors retry."""
    await Transcoder.current().process(UUID(video_id))


@app.periodic(cron="* * * * * */2", periodic_id="retry-stalled")
@app.task(name="retry_stalled_jobs", queue=MAINTENANCE_QUEUE, queueing_lock="retry_stalled_jobs", pass_context=False)
async def retry_stalled_jobs(timestamp: int) -> None:
    """Put back running jobs whose worker has not heartbeated for `stalled_after_s`."""
    settings = get_settings()
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.stalled_after_s)
    for job in stalled:
        log.warning("retrying stalled job %s (%s) of a dead worker", job.id, job.task_name)
        await app.job_manager.retry_job(job)


@app.periodic(cron="* * * * * */5", periodic_id="archive-wal")
@app.task(name="archive_wal", queue=MAINTENANCE_QUEUE, queueing_lock="archive_wal", pass_context=False)
async def archive_wal(timestamp: int) -> None:
    """With backups on, end the current WAL segment once `archive_timeout_s` has passed since the newest was
    archived, so it is archived. PostgreSQL's own archive_timeout does this, but measured on 15 it stops
    switching after a point-in-time restore (docs/operations.md); a switch with nothing written is a no-op."""
    settings = get_settings()
    if not settings.backup_dir:
        return
    async with await AsyncConnection.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        await conn.execute(
            "SELECT pg_switch_wal() FROM pg_stat_archiver WHERE now() - coalesce(last_archived_time, '-infinity')"
            " > make_interval(secs => %s)",
            (settings.archive_timeout_s,),
        )


@app.periodic(cron="17 * * * *", periodic_id="prune-maintenance-jobs")
@app.task(
    name="prune_maintenance_jobs", queue=MAINTENANCE_QUEUE, queueing_lock="prune_maintenance_jobs", pass_context=False
)
async def prune_maintenance_jobs(timestamp: int) -> None:
    """The periodic tasks above add a finished job every few seconds (about 60,000 a day): keep an hour of
    them. Transcode jobs are kept (the reconcile task and the docs read their history)."""
    await app.job_manager.delete_old_jobs(nb_hours=1, queue=MAINTENANCE_QUEUE)


MAX_ATTEMPTS = 3
RECONCILE_AFTER_S = 60
STORAGE_RETRY_S = 10
"""A job that found the media store full runs again this much later, without counting an attempt."""
STORAGE_HEADROOM_BYTES = 32 * 1024**2
SYSTEM_SCOPE = "-c reelgate.scope=system"
"""The worker serves every tenant: row-level security lets its sessions see every tenant's rows."""


@app.periodic(cron="* * * * * */30", periodic_id="reconcile")
@app.task(name="reconcile_videos", queue=MAINTENANCE_QUEUE, queueing_lock="reconcile_videos", pass_context=False)
async def reconcile_videos(timestamp: int) -> None:
    """The safety net: a video still queued or processing with no live job gets a new job,
    or, after MAX_ATTEMPTS, ends `failed`. Nothing stays stuck."""
    connector = app.connector
    async with connector.pool.connection() as conn:  # type: ignore[attr-defined]
        for video_id, color, attempts, tenant_id in await repo.orphaned_videos(conn, RECONCILE_AFTER_S):
            if attempts >= MAX_ATTEMPTS:
                log.error("video %s failed %s times; giving up", video_id, attempts)
                reason = "Processing failed repeatedly on our side; the error was logged."
                await repo.mark_failed(conn, video_id, reason)
                if Transcoder._current:
                    await Transcoder._current._announce(
                        tenant_id, video_id, Event(status="failed", progress=0.0, failure_reason=reason)
                    )
            else:
                log.warning("video %s has no live job; deferring a new one", video_id)
                async with conn.transaction():
                    await repo.touch_video(conn, video_id)
                    await transcode_video.configure(queue=queue_for(color), connection=conn).defer_async(
                        video_id=str(video_id)
                    )


@app.periodic(cron="*/10 * * * *", periodic_id="collect-media")
@app.task(name="collect_media", queue=MAINTENANCE_QUEUE, queueing_lock="collect_media", pass_context=False)
async def collect_media(timestamp: int) -> None:
    """Delete the media store's trash once its grace period (`media_grace_s`) has passed."""
    gone = await asyncio.to_thread(Transcoder.current().media.collect)
    if gone:
        log.info("collected %s batch(es) of deleted media", gone)


def _file_sizes(folder: Path, names: list[str]) -> dict[str, int]:
    """Each named file's size; a named folder's size is its files' added up (the HLS folder)."""
    sizes = {}
    for name in names:
        path = folder / name
        if path.is_dir():
            sizes[name] = sum(f.stat().st_size for f in path.iterdir())
        elif path.exists():
            sizes[name] = path.stat().st_size
    return sizes


class _Gone(Exception):
    """The video was deleted while it was being processed, or a newer attempt owns it."""


async def _mark_ready(conn: AsyncConnection[Any], video_id: UUID, output_id: UUID, cpu: float, attempt: int) -> None:
    """Inside the caller's transaction; raises _Gone (rolling it back) if the video was deleted, or a newer
    attempt owns it (this worker was cut off or stalled, and its job ran again elsewhere)."""
    if not await repo.mark_ready(conn, video_id, output_id, cpu, attempt):
        raise _Gone()


class Transcoder:
    """State the transcode task needs in a worker process: pool, Valkey, media store."""

    _current: Transcoder | None = None

    def __init__(self, kv: KV, media: MediaStore) -> None:
        self.kv = kv
        self.media = media
        self.settings = get_settings()

    @classmethod
    def current(cls) -> Transcoder:
        if cls._current is None:
            raise RuntimeError("the worker's Transcoder was not set up")
        return cls._current

    async def _connect(self) -> AsyncConnection[Any]:
        return await AsyncConnection.connect(self.settings.app_db_url, autocommit=True, options=SYSTEM_SCOPE)

    async def _announce(self, tenant_id: UUID, video_id: UUID, event: Event) -> None:
        await self.kv.delete(video_key(str(tenant_id), str(video_id)))
        await self.kv.publish(video_channel(str(video_id)), msgspec.json.encode(event))

    async def process(self, video_id: UUID) -> None:
        async with await self._connect() as conn:
            row = await repo.start_processing(conn, video_id)
            if row is None:
                return  # deleted, or already finished by an earlier attempt
            tenant_id = row["tenant_id"]
            await self._announce(tenant_id, video_id, Event(status="processing", progress=0.0))
            started, outcome = time.monotonic(), "error"
            try:
                await self._transcode(conn, video_id, row)
                outcome = "ready"
            except (InvalidMedia, transcode.TranscodeFailed, ToolMissing) as exc:
                outcome = "failed"
                await self._fail(conn, tenant_id, video_id, str(exc), row["attempts"])
            except _Gone:  # deleted, or superseded: a newer attempt of this video ran elsewhere and owns it
                outcome = "deleted_or_superseded"
            except Exception as exc:
                if not storage_full(exc):
                    raise  # an infrastructure error: procrastinate retries the job
                outcome = "storage_full"
                await self._wait_for_room(conn, tenant_id, video_id, exc, row["attempts"])
            finally:
                took = time.monotonic() - started
                JOB_SECONDS.labels(outcome=outcome).observe(took)
                log.info("video %s: %s after %.1f s (attempt %s)", video_id, outcome, took, row["attempts"])
                self.media.drop_attempt(video_id, row["attempts"])  # not another attempt's

    async def _transcode(self, conn: AsyncConnection[Any], video_id: UUID, row: dict[str, Any]) -> None:
        tenant_id = row["tenant_id"]
        if await self._reuse(conn, video_id, row):
            return
        source = self.media.source(video_id)
        if not source.exists():
            raise InvalidMedia("The uploaded file is no longer in the media store.")
        if self.media.free_bytes() < source.stat().st_size + STORAGE_HEADROOM_BYTES:
            raise transcode.StorageFull("the media store has less free room than the source takes")
        info = await probe(source)
        rungs = ladder.plan(info.width, info.height, self.settings.ladder)
        work = self.media.attempt_dir(video_id, row["attempts"])
        plan = transcode.build(
            source, work, info, rungs, ffmpeg=self.settings.ffmpeg, hls=self.settings.hls, mp4=self.settings.mp4
        )
        last = 0.0

        async def on_progress(update: Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY_S and not update.done:
                return
            last = now
            share = fraction(update, info.duration_s)
            if await repo.set_progress(conn, video_id, share, row["attempts"]):
                await self._announce(tenant_id, video_id, Event(status="processing", progress=share))

        timeout = TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * info.duration_s
        result = await transcode.run(plan, on_progress, timeout, nice=self.settings.transcode_nice)
        await self._finish(conn, tenant_id, video_id, row, plan, work, result.cpu_seconds)

    async def _reuse(self, conn: AsyncConnection[Any], video_id: UUID, row: dict[str, Any]) -> bool:
        """The same content was uploaded again before the first copy finished: once that one is done,
        take a reference on its output instead of transcoding it a second time."""
        tenant_id = row["tenant_id"]
        async with conn.transaction():
            output_id = await repo.reuse_output(conn, tenant_id, row["content_sha256"], row["ladder_key"])
            if output_id is None:
                return False
            # deleted or superseded meanwhile: the rollback drops the reference
            await _mark_ready(conn, video_id, output_id, 0.0, row["attempts"])
        await self._ready(tenant_id, video_id)
        return True

    async def _finish(
        self,
        conn: AsyncConnection[Any],
        tenant_id: UUID,
        video_id: UUID,
        row: dict[str, Any],
        plan: transcode.Plan,
        work: os.PathLike[str],
        cpu: float,
    ) -> None:
        output_id = uuid4()
        final = self.media.output_dir(output_id)
        await asyncio.to_thread(shutil.move, os.fspath(work), final)
        mp4s = [o.file for o in plan.outputs if transcode.downloadable(o.file)]
        names = [*mp4s, plan.thumbnail, *([transcode.HLS_DIR] if plan.hls_dir else [])]
        sizes = await asyncio.to_thread(_file_sizes, final, names)
        for out in plan.outputs:
            if out.file not in sizes:  # HLS only: the rendition is its variant
                sizes[out.file] = await asyncio.to_thread(transcode.variant_bytes, final / transcode.HLS_DIR, out.name)
        try:
            used = await self._record_output(conn, tenant_id, video_id, row, plan, final, sizes, output_id, cpu)
        except _Gone:  # deleted while processing: keep nothing
            await asyncio.to_thread(shutil.rmtree, final, True)
            raise
        if used != output_id:  # the same content finished first elsewhere: keep one copy
            await asyncio.to_thread(shutil.rmtree, final, True)
        await self._ready(tenant_id, video_id)

    async def _ready(self, tenant_id: UUID, video_id: UUID) -> None:
        VIDEOS.labels(status="ready").inc()
        await self._announce(tenant_id, video_id, Event(status="ready", progress=1.0))

    async def _record_output(
        self,
        conn: AsyncConnection[Any],
        tenant_id: UUID,
        video_id: UUID,
        row: dict[str, Any],
        plan: transcode.Plan,
        final: Path,
        sizes: dict[str, int],
        output_id: UUID,
        cpu: float,
    ) -> UUID:
        """Store the output (or take a reference on an equal one) and mark the video ready, atomically."""
        async with conn.transaction():
            folder = str(final.relative_to(self.media.root))
            thumbnail = sizes.get(plan.thumbnail, 0)
            hls = sizes.get(transcode.HLS_DIR)
            used = await repo.upsert_output(
                conn,
                output_id,
                tenant_id,
                row["content_sha256"],
                row["ladder_key"],
                folder,
                thumbnail,
                cpu,
                hls,
                # An HLS-only rendition's bytes are its variant's, counted in the HLS folder already.
                total_bytes=sum(n for name, n in sizes.items() if not name.startswith(f"{transcode.HLS_DIR}/")),
            )
            if used == output_id:
                for out in plan.outputs:
                    await repo.insert_rendition(
                        conn, output_id, out.name, out.width, out.height, sizes[out.file], out.file, out.remuxed
                    )
            # deleted or superseded meanwhile: rolls back the output and reference
            await _mark_ready(conn, video_id, used, cpu, row["attempts"])
        return used

    async def _wait_for_room(
        self, conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, exc: Exception, attempt: int
    ) -> None:
        """The store is full: the video goes back to `queued`, the attempt is not counted, and a job runs
        again in STORAGE_RETRY_S (in one transaction, so the video always has its job)."""
        log.error("video %s waits: the media store is full (%s)", video_id, exc)
        async with conn.transaction():
            if not await repo.requeue(conn, video_id, attempt):
                return  # a newer attempt owns the video: no job, no announcement
            await transcode_video.configure(
                queue=queue_for(self.settings.color), connection=conn, schedule_in={"seconds": STORAGE_RETRY_S}
            ).defer_async(video_id=str(video_id))
        await self._announce(tenant_id, video_id, Event(status="queued", progress=0.0))

    async def _fail(
        self, conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, reason: str, attempt: int
    ) -> None:
        if not await repo.mark_failed(conn, video_id, reason, attempt):
            log.info("video %s: attempt %s failed after a newer one took over (%s)", video_id, attempt, reason)
            return  # fenced: the page must not hear `failed` for a video the newer attempt owns
        log.info("video %s failed: %s", video_id, reason)
        VIDEOS.labels(status="failed").inc()
        await self._announce(tenant_id, video_id, Event(status="failed", progress=0.0, failure_reason=reason))


async def run_worker(color: str) -> None:
    """Run this color's worker until SIGTERM/SIGINT (procrastinate installs the handlers)."""
    settings = get_settings()
    kv = KV(settings.app_kv_url, settings.valkey_timeout_s)
    Transcoder._current = Transcoder(kv, MediaStore(settings.media, settings.media_grace))
    pool = AsyncConnectionPool(
        settings.app_db_url,
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"options": SYSTEM_SCOPE},
        check=AsyncConnectionPool.check_connection,
    )
    try:
        await pool.open(wait=True, timeout=30)
        backups = settings.backup_status if settings.backup_dir else None
        depth = asyncio.create_task(watch_queue_depth(pool, backups))
        async with app.open_async(pool):
            await app.run_worker_async(
                queues=[queue_for(color), MAINTENANCE_QUEUE],
                name=f"worker-{color}-{os.getpid()}",
                concurrency=settings.worker_concurrency,
                update_heartbeat_interval=settings.heartbeat_s,
                stalled_worker_timeout=settings.stalled_after_s,
                # Finish the running ffmpeg before stopping; supervisord kills at 20 s.
                shutdown_graceful_timeout=15,
                install_signal_handlers=True,
                wait=True,
            )
    finally:
        if "depth" in locals():
            depth.cancel()
        await pool.close()
        await kv.close()
