"""Videos: accept an upload, load one, a page of them, its files, its events, its playback URLs,
usage, deletion. The API's controller and the pages both call these."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import msgspec
import psycopg
from litestar import Request, Response
from litestar.datastructures import State
from litestar.response import ServerSentEventMessage

from reelgate.platform import repo
from reelgate.platform.http import files, playback
from reelgate.platform.http.schemas import Playback, Usage, Video, VideoUsage
from reelgate.platform.http.uploads import Received, receive
from reelgate.platform.infra.db import tenant_db
from reelgate.platform.infra.errors import (
    ApplicationError,
    InvalidUpload,
    Unauthorized,
    UploadTooLarge,
)
from reelgate.platform.infra.kv import video_channel
from reelgate.platform.pipeline import cost, ladder, transcode
from reelgate.platform.pipeline.jobs import Event, queue_for, transcode_video
from reelgate.platform.pipeline.media import display_text, safe_filename
from reelgate.platform.pipeline.probe import InvalidMedia, probe

log = logging.getLogger("reelgate.platform.http.videos")

MULTIPART_OVERHEAD = 64 * 1024
SSE_PING_S = 15.0
SSE_RECHECK_S = 5.0
FINAL = ("ready", "failed")


class NotFound(ApplicationError):
    status_code = 404


def not_found(video_id: UUID) -> NotFound:
    return NotFound(f"There is no video {video_id}.")


async def load_json(state: State, tenant: repo.TenantRow, video_id: UUID) -> bytes:
    """A video's JSON through the read cache; PostgreSQL decides when the cache cannot."""
    cached = await state.cache.get(str(tenant.id), str(video_id))
    if cached:
        return cached
    async with tenant_db(state, tenant) as conn:
        video = await repo.get_video(conn, tenant.id, video_id)
    if video is None:
        raise not_found(video_id)
    body = msgspec.json.encode(video)
    await state.cache.set(str(tenant.id), str(video_id), body)
    return body


async def load(state: State, tenant: repo.TenantRow, video_id: UUID) -> Video:
    return msgspec.json.decode(await load_json(state, tenant, video_id), type=Video)


async def page_of_videos(
    state: State, tenant: repo.TenantRow, limit: int, cursor: str | None, bad_cursor: str
) -> tuple[list[Video], str | None]:
    """One page of the tenant's videos, newest first; `bad_cursor` is what a forged cursor is told."""
    after = None
    if cursor:
        try:
            after = repo.decode_cursor(cursor)
        except (ValueError, UnicodeDecodeError):
            raise ApplicationError(bad_cursor) from None
    async with tenant_db(state, tenant) as conn:
        return await repo.list_videos(conn, tenant.id, limit, after)


async def accept_upload(
    request: Request[Any, Any, Any],
    state: State,
    tenant: repo.TenantRow,
    check: Callable[[Received], None] | None = None,
) -> Video:
    """Stream a multipart upload to disk, probe it, and commit the row with its job.

    `check` sees the received form before anything is committed (the pages verify
    their CSRF token there); whatever it raises deletes the part file.
    """
    settings, media = state.settings, state.media
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise UploadTooLarge(f"The upload is larger than the limit of {limit} bytes.")
    part = media.part_file(uuid4())
    received = await receive(
        request.stream(), request.headers.get("content-type", ""), part, limit, csrf_field=check is not None
    )
    if check is not None:
        try:
            check(received)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    video_id = uuid4()
    source = media.source(video_id)
    try:
        os.replace(part, source)
        info = await probe(source)
        ladder_key = ladder.ladder_key(settings.ladder, settings.hls, settings.mp4)
        async with tenant_db(state, tenant) as conn:
            output_id = await repo.reuse_output(conn, tenant.id, received.sha256, ladder_key)
            fields = {
                "id": video_id,
                "tenant_id": tenant.id,
                "title": display_text(received.title),
                "filename": safe_filename(received.filename),
                "content_type": (received.content_type or "application/octet-stream")[:200],
                "source_bytes": received.bytes,
                "content_sha256": received.sha256,
                "status": "ready" if output_id else "queued",
                "progress": 1.0 if output_id else 0.0,
                "duration_s": info.duration_s,
                "width": info.width,
                "height": info.height,
                "video_codec": info.video_codec,
                "audio_codec": info.audio_codec,
                "ladder_key": ladder_key,
                "output_id": output_id,
                "color": settings.color,
            }
            await repo.insert_video(conn, fields, finished=output_id is not None)
            if output_id is None:
                # Same transaction as the row: an accepted upload always has its job.
                await transcode_video.configure(queue=queue_for(settings.color), connection=conn).defer_async(
                    video_id=str(video_id)
                )
    except InvalidMedia as exc:
        source.unlink(missing_ok=True)
        raise InvalidUpload(str(exc)) from None
    except psycopg.errors.ForeignKeyViolation:
        # The tenant was deleted while its key was still in this process's key cache.
        source.unlink(missing_ok=True)
        raise Unauthorized(
            "The API key is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        source.unlink(missing_ok=True)
        raise
    return await load(state, tenant, video_id)


class NotReady(ApplicationError):
    status_code = 409


async def signed_playback(state: State, tenant: repo.TenantRow, video_id: UUID) -> Playback:
    video = await load(state, tenant, video_id)
    if video.status != "ready":
        raise NotReady(f"Video {video_id} is {video.status}: there is nothing to play yet.")
    return playback.urls(state.session_secret, video, state.settings.playback_ttl_s)


async def usage_for(state: State, tenant: repo.TenantRow) -> Usage:
    settings = state.settings
    async with tenant_db(state, tenant) as conn:
        rows = await repo.usage_rows(conn, tenant.id)
    per_video = []
    for video_id, title, status, seconds, cpu, out, egress in rows:
        spent = cost.cost_of(settings, cpu, int(out), int(egress))
        per_video.append(
            VideoUsage(
                id=video_id,
                title=title,
                status=status,
                source_seconds=round(seconds, 3),
                output_bytes=int(out),
                egress_bytes=int(egress),
                cpu_seconds=round(cpu, 3),
                cost_estimate=spent.total,
                cost=spent,
                cost_per_source_minute=cost.per_source_minute(spent.total, seconds),
            )
        )
    seconds = sum(v.source_seconds for v in per_video)
    cpu = sum(v.cpu_seconds for v in per_video)
    out = sum(v.output_bytes for v in per_video)
    egress = sum(v.egress_bytes for v in per_video)
    spent = cost.cost_of(settings, cpu, out, egress)
    return Usage(
        tenant=tenant.name,
        videos=len(per_video),
        source_seconds=round(seconds, 3),
        output_bytes=out,
        egress_bytes=egress,
        cpu_seconds=round(cpu, 3),
        cost_estimate=spent.total,
        cost=spent,
        cost_per_source_minute=cost.per_source_minute(spent.total, seconds),
        currency="USD",
        rates=cost.rates(settings),
        per_video=per_video,
    )


async def remove(state: State, tenant: repo.TenantRow, video_id: UUID, by: dict[str, str]) -> None:
    """Delete a video (audited as done `by` an actor from an address); its outputs go only when no
    other video uses them."""
    async with tenant_db(state, tenant) as conn:
        found, unused_dir = await repo.delete_video(conn, tenant.id, video_id)
        if found:
            await repo.record(conn, "video.deleted", tenant_id=tenant.id, tenant=tenant.name, video=str(video_id), **by)
    if not found:
        raise not_found(video_id)
    await state.cache.invalidate(str(tenant.id), str(video_id))
    media = state.media
    await asyncio.to_thread(media.remove_video_files, video_id)
    if unused_dir:
        await asyncio.to_thread(media.discard, [unused_dir])


async def serve_file(
    request: Request[Any, Any, Any],
    state: State,
    tenant: repo.TenantRow,
    video_id: UUID,
    name: str | None,
    media_type: str,
) -> Response[Any]:
    async with tenant_db(state, tenant) as conn:
        found = await repo.rendition_file(conn, tenant.id, video_id, name)
    if found is None:
        what = f"rendition '{name}'" if name else "thumbnail"
        raise NotFound(f"Video {video_id} has no {what} (it may not be ready yet).")
    folder, file, _size = found
    if name and not transcode.downloadable(file):
        raise NotFound(
            f"Video {video_id} was made as HLS only: it has no {name} download. Play it through"
            f" /v1/videos/{video_id}/playback."
        )
    path = state.media.resolve(folder) / file
    return files.serve(request, path, media_type, f"{video_id}-{file}", lambda n: state.egress.add(video_id, n))


def _message(event: Event) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(event).decode(), event=event.status)


async def event_stream(state: State, tenant: repo.TenantRow, video: Video) -> AsyncIterator[ServerSentEventMessage]:
    """The current state first, then each change from Valkey pub/sub, ending at ready or failed.

    PostgreSQL is rechecked every few seconds, so a missed message or a dead
    Valkey only slows the stream down; it never hangs it.
    """
    current = Event(status=video.status, progress=video.progress, failure_reason=video.failure_reason)
    yield _message(current)
    if video.status in FINAL:
        return
    pubsub = state.kv.pubsub()
    subscribed = False
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pubsub.subscribe(video_channel(str(video.id))), state.settings.valkey_timeout_s)
        subscribed = True
    last_ping = last_check = time.monotonic()
    try:
        while True:
            event = None
            if subscribed:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message and message.get("type") == "message":
                        event = msgspec.json.decode(message["data"], type=Event)
                except Exception:
                    subscribed = False
            else:
                await asyncio.sleep(1.0)
            now = time.monotonic()
            if event is None and now - last_check >= (SSE_RECHECK_S if subscribed else 1.0):
                last_check = now
                async with tenant_db(state, tenant) as conn:
                    fresh = await repo.get_video(conn, tenant.id, video.id)
                if fresh is None:
                    return
                event = Event(status=fresh.status, progress=fresh.progress, failure_reason=fresh.failure_reason)
            if event is not None and event != current:
                current = event
                yield _message(event)
            if current.status in FINAL:
                return
            if now - last_ping >= SSE_PING_S:
                last_ping = now
                yield ServerSentEventMessage(comment="ping")
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
