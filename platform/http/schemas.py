"""The API's resources, as msgspec Structs (the OpenAPI document is built from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from reelgate.platform.pipeline.cost import Cost

Status = Literal["queued", "processing", "ready", "failed"]


class Rendition(msgspec.Struct):
    name: str
    width: int
    height: int
    bytes: int
    url: str | None
    """The MP4 download; None when the platform writes HLS only (`mp4 = false`): play it through
    the video's playback URL."""


class Caption(msgspec.Struct):
    lang: str
    """A BCP 47 language tag: `en`, `pt-BR`."""
    label: str
    """What the player's captions menu shows."""
    cues: int
    bytes: int
    url: str


class Video(msgspec.Struct):
    id: UUID
    url: str
    title: str
    filename: str
    status: Status
    progress: float
    failure_reason: str | None
    source_bytes: int
    content_sha256: str
    duration_s: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    renditions: list[Rendition]
    thumbnail_url: str | None
    events_url: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    # Last, with a default: JSON cached by a color from before captions still decodes.
    captions: list[Caption] = msgspec.field(default_factory=list)
    hls: bool = False
    """The renditions are also an HLS stream (see `playback_url`)."""
    playback_url: str | None = None
    """Signed, expiring URLs to play the video without the API key, for a player or a page."""


class Playback(msgspec.Struct):
    """URLs anyone holding them can play until `expires_at`; they carry an HMAC of the video and the
    expiry, so they cannot be stretched or moved to another video."""

    expires_at: datetime
    hls_url: str | None
    """The master playlist; None when the video was processed without HLS."""
    mp4_urls: dict[str, str]
    """Each rendition's MP4 by name: the fallback for players without HLS (empty for HLS only)."""


class VideoPage(msgspec.Struct):
    items: list[Video]
    next_cursor: str | None


class VideoUpdate(msgspec.Struct, forbid_unknown_fields=True):
    title: str = msgspec.field()


class VideoUsage(msgspec.Struct, kw_only=True):
    id: UUID
    title: str
    """The video's title, or its file's name when it has none."""
    status: Status
    source_seconds: float
    output_bytes: int
    egress_bytes: int
    """Bytes served so far: renditions, thumbnail, HLS segments."""
    cpu_seconds: float
    cost_estimate: float
    """`cost.total`, kept for clients that read it."""
    cost: Cost
    cost_per_source_minute: float | None
    """None while the source's length is unknown."""


class Usage(msgspec.Struct, kw_only=True):
    tenant: str
    videos: int
    source_seconds: float
    output_bytes: int
    egress_bytes: int
    cpu_seconds: float
    cost_estimate: float
    cost: Cost
    cost_per_source_minute: float | None
    currency: str
    rates: dict[str, float]
    """USD per vCPU-second (`per_cpu_second`), per GB-month stored, per GB served."""
    per_video: list[VideoUsage]


class Health(msgspec.Struct):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, str]


class Version(msgspec.Struct):
    version: str
    color: str
    git_revision: str
    ffmpeg: str
    """The version of the ffmpeg that transcodes (the `ffmpeg` setting), or why there is none."""
    outputs: list[str] = []
    """How renditions are written: `mp4` (downloads), `hls` (a stream), or both (the `mp4` and `hls`
    settings); a scenario's `needs` reads it."""


class Problem(msgspec.Struct):
    """RFC 9457 problem details: every error from this API has this shape."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
