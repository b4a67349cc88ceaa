"""Signed playback URLs: what they cover, and the 403 that says why."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from reelgate.platform.http.playback import PlaybackForbidden, prefix, signature, urls, verify
from reelgate.platform.http.schemas import Rendition, Video

SECRET = "s" * 43
NOW = 1_800_000_000


def test_a_fresh_url_verifies() -> None:
    video = uuid4()
    verify(SECRET, video, NOW + 60, signature(SECRET, video, NOW + 60), now=NOW)


def test_a_stretched_expiry_or_another_video_is_forged() -> None:
    video = uuid4()
    sig = signature(SECRET, video, NOW + 60)
    with pytest.raises(PlaybackForbidden, match="signature does not match") as caught:
        verify(SECRET, video, NOW + 3600, sig, now=NOW)
    assert caught.value.status_code == 403
    with pytest.raises(PlaybackForbidden, match="signature does not match"):
        verify(SECRET, uuid4(), NOW + 60, sig, now=NOW)
    with pytest.raises(PlaybackForbidden, match="signature does not match"):
        verify("another key", video, NOW + 60, sig, now=NOW)


def test_a_stale_url_says_when_it_expired() -> None:
    video = uuid4()
    with pytest.raises(PlaybackForbidden, match=r"expired at 2027-01-15 08:00:00 UTC\. Ask the API for new ones"):
        verify(SECRET, video, NOW, signature(SECRET, video, NOW), now=NOW + 1)


def test_urls_share_one_signed_prefix_so_playlists_resolve_under_it() -> None:
    video = Video(
        id=uuid4(),
        url="/v1/videos/x",
        title="",
        filename="a.mp4",
        status="ready",
        progress=1,
        failure_reason=None,
        source_bytes=1,
        content_sha256="x",
        duration_s=1,
        width=1280,
        height=720,
        video_codec="h264",
        audio_codec=None,
        renditions=[Rendition(name="720p", width=1280, height=720, bytes=1, url="/v1/videos/x/renditions/720p")],
        thumbnail_url=None,
        events_url="/v1/videos/x/events",
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
        finished_at=None,
        hls=True,
    )
    got = urls(SECRET, video, ttl_s=600, now=NOW)
    base = prefix(SECRET, video.id, NOW + 600)
    assert got.hls_url == f"{base}/master.m3u8"
    assert got.mp4_urls == {"720p": f"{base}/720p.mp4"}
    assert got.expires_at == datetime.fromtimestamp(NOW + 600, UTC)
    video.hls = False
    assert urls(SECRET, video, ttl_s=600, now=NOW).hls_url is None
