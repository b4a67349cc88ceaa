"""HLS on the running stack: the signed master playlist, its variants and segments without the key;
ffprobe reads it over HTTP; a forged, stale or foreign URL is a 403 that says why."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelgate.platform.http.playback import prefix
from tests.integration.stack import Stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def played(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # 720p conforms, so that rung is copied; 480p and 360p are encoded, in 4-second segments.
    source = make_clip(tmp_path_factory.mktemp("hls") / "hls.mp4", size="1280x720", seconds=6)
    with stack.client(stack.tenant("hls-viewer")) as api:
        video = wait_final(api, upload(api, source).json())
        assert video["status"] == "ready", video["failure_reason"]
        urls = api.get(video["playback_url"]).json()
    return {"video": video, "urls": urls}


def test_the_master_playlist_plays_without_the_key(stack: Stack, played: dict[str, Any]) -> None:
    video, urls = played["video"], played["urls"]
    assert video["hls"] is True
    with httpx.Client(base_url=stack.router, timeout=30) as anyone:
        master = anyone.get(urls["hls_url"])
        assert master.status_code == 200, master.text
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert master.headers["access-control-allow-origin"] == "*"
        variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
        assert variants == [f"{r['name']}.m3u8" for r in video["renditions"]]
        base = urls["hls_url"].rsplit("/", 1)[0]
        playlist = anyone.get(f"{base}/{variants[-1]}").text
        segments = [line for line in playlist.splitlines() if line.endswith(".m4s")]
        assert len(segments) == 2  # 6 s in 4-second segments
        first = anyone.get(f"{base}/{segments[0]}", headers={"Range": "bytes=0-99"})
        assert first.status_code == 206 and len(first.content) == 100
        mp4 = anyone.get(urls["mp4_urls"][video["renditions"][0]["name"]])
        assert mp4.status_code == 200 and mp4.content[4:8] == b"ftyp"


def test_ffprobe_reads_the_served_master_playlist(stack: Stack, played: dict[str, Any]) -> None:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", stack.router + played["urls"]["hls_url"]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    streams = json.loads(out)["streams"]
    heights = sorted({s["height"] for s in streams if s["codec_type"] == "video"})
    assert heights == sorted(r["height"] for r in played["video"]["renditions"])


def test_forged_stale_and_foreign_urls_are_refused_saying_why(stack: Stack, played: dict[str, Any]) -> None:
    video, hls_url = played["video"], played["urls"]["hls_url"]
    _, _, video_id, expires, sig, _file = hls_url.split("/")
    secret = (stack.home / "var" / "secrets" / "session_key").read_text().strip()
    with httpx.Client(base_url=stack.router, timeout=30) as anyone:
        stretched = anyone.get(f"/play/{video_id}/{int(expires) + 3600}/{sig}/master.m3u8")
        assert stretched.status_code == 403
        assert "signature does not match" in stretched.json()["detail"]
        stale = anyone.get(f"{prefix(secret, video['id'], int(time.time()) - 5)}/master.m3u8")
        assert stale.status_code == 403
        assert "expired at" in stale.json()["detail"] and "/playback" in stale.json()["detail"]
        other = anyone.get(f"/play/00000000-0000-0000-0000-000000000000/{expires}/{sig}/master.m3u8")
        assert other.status_code == 403
        assert anyone.get(f"/play/{video_id}/{expires}/{sig}/..%2Fsource").status_code == 404
        assert anyone.get(f"/play/{video_id}/{expires}/{sig}/thumbnail.jpg").status_code == 404


def test_playback_urls_wait_for_ready(stack: Stack, tmp_path: Path) -> None:
    source = make_clip(tmp_path / "slow.mp4", size="640x360", seconds=2, extra=("-metadata", "title=not yet"))
    with stack.client(stack.tenant("hls-early")) as api:
        video = upload(api, source).json()
        early = api.get(f"{video['url']}/playback")
        # Usually the worker has not finished a 2 s clip this soon; if it has, the URLs are due.
        if api.get(video["url"]).json()["status"] != "ready" or early.status_code == 409:
            assert early.status_code == 409 and "nothing to play yet" in early.json()["detail"]
        else:
            assert early.status_code == 200
        final = wait_final(api, video)
        assert api.get(final["playback_url"]).status_code == 200


def test_bytes_served_through_signed_urls_count_as_egress(stack: Stack, tmp_path: Path) -> None:
    source = make_clip(tmp_path / "egress.mp4", size="640x360", seconds=2, extra=("-metadata", "title=egress"))
    with stack.client(stack.tenant("hls-egress")) as api:
        video = wait_final(api, upload(api, source).json())
        urls = api.get(video["playback_url"]).json()
        served = len(httpx.get(stack.router + next(iter(urls["mp4_urls"].values())), timeout=30).content)

        def counted() -> int | None:
            egress = api.get("/v1/usage").json()["egress_bytes"]
            return egress if egress >= served else None

        assert wait_for(counted, 20, "the bytes served through /play to be counted") == served
