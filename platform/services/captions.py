"""Caption tracks: check and store one as WebVTT, serve it, remove it. The API's controller and the
pages both call these."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from litestar import Response
from litestar.datastructures import State

from reelgate.platform import repo
from reelgate.platform.http.schemas import Caption
from reelgate.platform.infra.db import tenant_db
from reelgate.platform.infra.errors import ApplicationError
from reelgate.platform.pipeline import webvtt
from reelgate.platform.pipeline.media import display_text
from reelgate.platform.services.videos import NotFound, not_found

TrackAction = Callable[[Any, UUID, UUID, str], Awaitable[bool]]
"""(connection, tenant, video, language) -> whether the tenant's track was there."""

VTT = "text/vtt; charset=utf-8"


class InvalidCaptions(ApplicationError):
    status_code = 422
    problem_type = "/problems/invalid-captions"


def _no_track(video_id: UUID, lang: str) -> NotFound:
    return NotFound(f"Video {video_id} has no captions in {lang!r}.")


def _language(lang: str) -> str:
    try:
        return webvtt.check_language(lang)
    except webvtt.CaptionError as exc:
        raise InvalidCaptions(str(exc)) from None


async def save(
    state: State, tenant: repo.TenantRow, video_id: UUID, lang: str, label: str | None, data: bytes
) -> Caption:
    """Check, convert and store one track; replaces the video's track in that language."""
    lang = _language(lang)
    try:
        cues = webvtt.parse(data)
    except webvtt.CaptionError as exc:
        raise InvalidCaptions(str(exc)) from None
    text = webvtt.to_webvtt(cues).encode()
    folder = state.media.captions_dir(video_id)
    path = folder / f"{lang}.vtt"
    tmp = folder / f".{uuid4()}.tmp"

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(text)
        os.replace(tmp, path)

    label = display_text(label or "", 100) or lang
    # The row first, then the file, in one transaction: another tenant's video matches no row (a 404
    # before anything is written), the row lock makes two uploads of one track take turns, and a video
    # deleted meanwhile waits for the commit, then removes the file with the rest.
    async with tenant_db(state, tenant) as conn:
        if not await repo.upsert_caption(conn, tenant.id, video_id, lang, label, len(cues), len(text)):
            raise not_found(video_id)
        await asyncio.to_thread(write)
    await state.cache.invalidate(str(tenant.id), str(video_id))
    return Caption(
        lang=lang, label=label, cues=len(cues), bytes=len(text), url=f"/v1/videos/{video_id}/captions/{lang}"
    )


async def _on_track(state: State, tenant: repo.TenantRow, video_id: UUID, lang: str, action: TrackAction) -> str:
    """Run `action` (delete or look up) on one of the tenant's tracks; 404 if there is none."""
    lang = _language(lang)
    async with tenant_db(state, tenant) as conn:
        if not await action(conn, tenant.id, video_id, lang):
            raise _no_track(video_id, lang)
    return lang


async def remove(state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> None:
    lang = await _on_track(state, tenant, video_id, lang, repo.delete_caption)
    await asyncio.to_thread(state.media.discard, [f"captions/{video_id}/{lang}.vtt"])
    await state.cache.invalidate(str(tenant.id), str(video_id))


async def track_file(state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> Response[bytes]:
    lang = await _on_track(state, tenant, video_id, lang, repo.has_caption)
    path: Path = state.media.captions_dir(video_id) / f"{lang}.vtt"
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise _no_track(video_id, lang) from None
    # Replaced in place, so never cached without asking again.
    return Response(body, media_type=VTT, headers={"Cache-Control": "private, no-cache"})
