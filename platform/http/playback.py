"""Signed playback URLs: HLS and MP4 that a player fetches without the API key, until they expire.

A URL is `/play/{video}/{expires}/{signature}/{file}`. The signature is an HMAC-SHA256 of the video
id and the expiry (a Unix time), so a URL cannot be stretched or moved to another video. It sits in
the path, not the query, so the relative URIs inside the playlists (variant playlists, init
segments, media segments) inherit it and need no signing of their own. The key is derived from the
session secret that both colors share, so a URL stays valid across a blue-green switch.

A stale or forged URL is a 403 whose detail says which, and where to get a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.datastructures import State

from reelgate.platform import repo
from reelgate.platform.http import files
from reelgate.platform.http.schemas import Playback, Video
from reelgate.platform.infra.db import system_db
from reelgate.platform.infra.errors import ApplicationError, problem_responses
from reelgate.platform.pipeline.transcode import HLS_DIR, MASTER

SALT = b"reelgate playback v1"
_HLS_FILE = re.compile(r"^(master\.m3u8|\d+p\.m3u8|\d+p_init\.mp4|\d+p_\d{3,}\.m4s)$")
_MP4_FILE = re.compile(r"^\d+p\.mp4$")
MEDIA_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}


class PlaybackForbidden(ApplicationError):
    status_code = 403
    problem_type = "/problems/playback-forbidden"


class NoSuchFile(ApplicationError):
    status_code = 404


def signature(secret: str, video_id: UUID, expires: int) -> str:
    key = hmac.new(secret.encode(), SALT, hashlib.sha256).digest()
    mac = hmac.new(key, f"{video_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()  # 144 bits, 24 characters, no padding


def prefix(secret: str, video_id: UUID, expires: int) -> str:
    return f"/play/{video_id}/{expires}/{signature(secret, video_id, expires)}"


def urls(secret: str, video: Video, ttl_s: int, now: float | None = None) -> Playback:
    expires = int(now if now is not None else time.time()) + ttl_s
    base = prefix(secret, video.id, expires)
    return Playback(
        expires_at=datetime.fromtimestamp(expires, UTC),
        hls_url=f"{base}/{MASTER}" if video.hls else None,
        mp4_urls={r.name: f"{base}/{r.name}.mp4" for r in video.renditions if r.url},
    )


def verify(secret: str, video_id: UUID, expires: int, given: str, now: float | None = None) -> None:
    """Raise PlaybackForbidden, saying why, unless the URL was signed here and has not expired."""
    again = f"Ask the API for new ones: GET /v1/videos/{video_id}/playback."
    if not hmac.compare_digest(given.encode(), signature(secret, video_id, expires).encode()):
        raise PlaybackForbidden(
            "The playback URL's signature does not match its video and expiry: it was changed, or "
            f"signed with another key. {again}"
        )
    if expires < (now if now is not None else time.time()):
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise PlaybackForbidden(f"The playback URL expired at {when}. {again}")


class PlaybackController(Controller):
    path = "/play"
    tags = ["playback"]

    @get(
        "/{video_id:uuid}/{expires:int}/{sig:str}/{file:str}",
        operation_id="play",
        summary="A signed playback file: the HLS master or variant playlists, segments, or an MP4",
        responses=problem_responses(403, 404, 416),
    )
    async def play(
        self, request: Request[Any, Any, Any], state: State, video_id: UUID, expires: int, sig: str, file: str
    ) -> Response[Any]:
        verify(state.session_secret, video_id, expires, sig)
        if _HLS_FILE.match(file):
            relative = f"{HLS_DIR}/{file}"
        elif _MP4_FILE.match(file):
            relative = file
        else:
            raise NoSuchFile(f"{file!r} is not a playback file: expected master.m3u8, a variant or an MP4.")
        async with system_db(state.pool) as conn:
            folder = await repo.playback_folder(conn, video_id)
        path = state.media.resolve(folder) / relative if folder else None
        if path is None or not path.is_file():
            raise NoSuchFile(f"Video {video_id} has no {file} to play: it was deleted, or made without HLS.")
        response = files.serve(
            request, path, MEDIA_TYPES[path.suffix], f"{video_id}-{file}", lambda n: state.egress.add(video_id, n)
        )
        # Players on other sites fetch these with the URL alone: it is the credential.
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
