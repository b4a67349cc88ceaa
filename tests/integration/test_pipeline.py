"""A clip goes through the router, is processed by the real worker and ffmpeg, and comes out right."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from reelgate.platform.pipeline.transcode import ffmpeg_path
from tests.integration.videos import upload, wait_final
from tests.media import ffprobe, make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_clip_becomes_ready_with_every_rendition(api: httpx.Client, clip: Path, tmp_path: Path) -> None:
    answer = upload(api, clip, title="first")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == answer.json()["url"]
    video = wait_final(api, answer.json())
    assert video["status"] == "ready", video["failure_reason"]
    assert video["title"] == "first"
    assert [r["name"] for r in video["renditions"]] == ["240p"]  # 320x240 is below every rung
    for rendition in video["renditions"]:
        got = api.get(rendition["url"])
        assert got.status_code == 200
        assert int(got.headers["content-length"]) == rendition["bytes"] == len(got.content)
        out = tmp_path / f"{rendition['name']}.mp4"
        out.write_bytes(got.content)
        info = ffprobe(out)
        stream = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert (stream["width"], stream["height"]) == (rendition["width"], rendition["height"])
        assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
        assert any(s["codec_type"] == "audio" and s["codec_name"] == "aac" for s in info["streams"])
        assert abs(float(info["format"]["duration"]) - 2.0) <= 0.1
    thumb = api.get(video["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"  # JPEG


@pytest.mark.timeout(180)
def test_720p_source_gets_full_ladder_never_upscaled(api: httpx.Client, media_dir: Path, tmp_path: Path) -> None:
    """The one larger end-to-end clip: a non-conforming (MPEG-4 Part 2) 720p source."""
    source = make_clip(media_dir / "hd.mp4", size="1280x720", seconds=2, vcodec="mpeg4")
    video = wait_final(api, upload(api, source).json(), timeout=120)
    assert video["status"] == "ready", video["failure_reason"]
    sizes = [(r["name"], r["width"], r["height"]) for r in video["renditions"]]
    assert sizes == [("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)]
    for rendition in video["renditions"]:
        out = tmp_path / f"{rendition['name']}.mp4"
        out.write_bytes(api.get(rendition["url"]).content)
        info = ffprobe(out)
        assert abs(float(info["format"]["duration"]) - 2.0) <= 0.1
        assert info["streams"][0]["codec_name"] == "h264"


def test_rotated_phone_clip_is_planned_on_its_displayed_size(api: httpx.Client, media_dir: Path) -> None:
    stored = make_clip(media_dir / "landscape.mp4", size="640x360", seconds=1)
    rotated = media_dir / "rotated.mp4"
    from tests.media import ffmpeg

    # ffmpeg 5.1 (Debian 12) writes the display matrix from the `rotate` tag when copying into MP4.
    ffmpeg("-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    video = wait_final(api, upload(api, rotated).json())
    assert video["status"] == "ready", video["failure_reason"]
    assert (video["width"], video["height"]) == (360, 640)
    assert [(r["width"], r["height"]) for r in video["renditions"]] == [(360, 640)]


def test_video_without_audio_is_processed(api: httpx.Client, media_dir: Path) -> None:
    silent = make_clip(media_dir / "silent.mp4", audio=False, seconds=1)
    video = wait_final(api, upload(api, silent).json())
    assert video["status"] == "ready", video["failure_reason"]
    assert video["audio_codec"] is None


def test_range_etag_and_sse(api: httpx.Client, clip: Path) -> None:
    video = wait_final(api, upload(api, clip).json())
    url = video["renditions"][0]["url"]
    size = video["renditions"][0]["bytes"]
    part = api.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-109/{size}"
    assert len(part.content) == 100
    whole = api.get(url)
    assert part.content == whole.content[10:110]
    tail = api.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole.content[-50:]
    outside = api.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{size}"
    assert outside.headers["content-type"].startswith("application/problem+json")
    cached = api.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    # The event stream of a finished video says so and ends.
    with api.stream("GET", video["events_url"]) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        body = "".join(events.iter_text())
    assert "event: ready" in body
    data = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
    assert data[-1]["status"] == "ready"


def test_events_follow_processing_until_ready(api: httpx.Client, media_dir: Path) -> None:
    source = make_clip(media_dir / "events.mp4", size="640x360", seconds=2, vcodec="mpeg4")
    video = upload(api, source).json()
    with api.stream("GET", video["events_url"], timeout=60) as events:
        body = "".join(events.iter_text())
    statuses = [json.loads(line[5:])["status"] for line in body.splitlines() if line.startswith("data:")]
    assert statuses[-1] == "ready"
    assert statuses[0] in ("queued", "processing", "ready")
    # The upload cached `queued`; the worker's announcement must have evicted every copy.
    assert api.get(video["url"]).json()["status"] == "ready"


def test_same_content_reuses_outputs_and_delete_keeps_the_other(api: httpx.Client, media_dir: Path) -> None:
    source = make_clip(media_dir / "dup.mp4", seconds=1, extra=("-metadata", "title=dup"))
    first = wait_final(api, upload(api, source).json())
    second = upload(api, source).json()
    assert second["status"] == "ready", "the same content and ladder must reuse the finished outputs"
    assert [r["bytes"] for r in second["renditions"]] == [r["bytes"] for r in first["renditions"]]
    assert api.delete(first["url"]).status_code == 204
    assert api.get(first["url"]).status_code == 404
    assert api.get(second["renditions"][0]["url"]).status_code == 200
    assert api.get(second["thumbnail_url"]).status_code == 200
    assert api.delete(second["url"]).status_code == 204
    assert api.get(second["renditions"][0]["url"]).status_code == 404


def test_list_is_keyset_paginated(stack, media_dir: Path, clip: Path) -> None:
    with stack.client(stack.tenant("pager")) as api:
        ids = [upload(api, clip).json()["id"] for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            page = api.get("/v1/videos", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            seen += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(ids))
        assert api.get("/v1/videos", params={"cursor": "garbage"}).status_code == 400
        assert api.get("/v1/videos", params={"limit": 0}).status_code == 400


def test_usage_counts_processing_storage_and_serving(stack, clip: Path) -> None:
    key = stack.tenant("usage")
    with stack.client(key) as api:
        video = wait_final(api, upload(api, clip, name="holiday.mp4").json())
        rendition = video["renditions"][0]
        whole = len(api.get(rendition["url"]).content)
        part = len(api.get(rendition["url"], headers={"Range": "bytes=0-999"}).content)
        thumb = len(api.get(video["thumbnail_url"]).content)
        served = whole + part + thumb

        def counted() -> dict | None:
            usage = api.get("/v1/usage").json()
            return usage if usage["egress_bytes"] >= served else None

        # The API writes its counts every few seconds.
        usage = wait_for(counted, 15, "served bytes to be counted")
    assert usage["videos"] == 1
    assert usage["source_seconds"] == pytest.approx(2.0, abs=0.1)
    assert usage["output_bytes"] >= rendition["bytes"]
    assert usage["cpu_seconds"] > 0  # ffmpeg's own CPU seconds for the transcode
    assert usage["egress_bytes"] == served == whole + 1000 + thumb
    one = usage["per_video"][0]
    assert one["id"] == video["id"] and one["title"] == "holiday.mp4"  # no title: its file's name
    rates, cost = usage["rates"], usage["cost"]
    assert cost["processing"] == pytest.approx(usage["cpu_seconds"] * rates["per_cpu_second"], rel=1e-3, abs=1e-9)
    assert cost["storage"] == pytest.approx(usage["output_bytes"] / 1e9 * rates["per_gb_month"], rel=1e-3, abs=1e-9)
    assert cost["egress"] == pytest.approx(served / 1e9 * rates["per_egress_gb"], rel=1e-3, abs=1e-9)
    assert usage["cost_estimate"] == cost["total"] > 0
    assert usage["cost_per_source_minute"] == pytest.approx(cost["total"] / (usage["source_seconds"] / 60), rel=1e-3)
    with psycopg.connect(stack.settings.db_url, autocommit=True) as conn:
        folder, total = conn.execute(  # type: ignore[misc]
            "SELECT o.dir, o.total_bytes FROM videos v JOIN outputs o ON o.id = v.output_id WHERE v.id = %s",
            (video["id"],),
        ).fetchone()
        on_disk = sum(f.stat().st_size for f in (stack.media / folder).rglob("*") if f.is_file())
        assert usage["output_bytes"] == total == on_disk
        # An output the previous release made has no stored total: its parts add up to the same.
        conn.execute("UPDATE outputs SET total_bytes = NULL WHERE dir = %s", (folder,))
        with stack.client(key) as api:
            assert api.get("/v1/usage").json()["output_bytes"] == on_disk


def test_metrics_group_paths_and_include_the_worker(api: httpx.Client, clip: Path) -> None:
    wait_final(api, upload(api, clip).json())
    text = httpx.get(f"{api.base_url}/metrics").text
    assert 'path="/v1/videos/{video_id}"' in text
    assert not any(
        line
        for line in text.splitlines()
        if "/v1/videos/" in line and "-" in line.split("path=")[-1][:60] and "{video_id}" not in line
    ), "ids must not become labels"
    assert 'reelgate_transcode_seconds_count{outcome="ready"}' in text
    assert 'reelgate_videos_finished_total{status="ready"}' in text


def test_health_and_version(stack, api: httpx.Client) -> None:
    ready = api.get("/health/ready").json()
    assert ready == {"status": "ok", "checks": {"postgres": "ok", "valkey": "ok", "ffmpeg": "ok", "disk": "ok"}}
    version = api.get("/health/version").json()
    assert version["color"] == "blue" and version["version"] == "0.1.0"
    pinned = subprocess.run([ffmpeg_path("pinned"), "-version"], capture_output=True, text=True, check=True)
    assert version["ffmpeg"] == pinned.stdout.split()[2]  # the default: the wheel's static ffmpeg 9
    assert version["ffmpeg"].startswith("n9.")
    assert api.get("/health/live").status_code == 200


def test_a_burst_of_the_same_upload_is_transcoded_once(stack, media_dir: Path) -> None:
    """Uploads of the same content that arrive before the first is done wait for it and share its output."""
    clip = make_clip(media_dir / "burst.mp4", size="320x240", seconds=2, extra=("-metadata", "title=burst"))
    with stack.client(stack.tenant("burst", "--rate-limit", "0")) as api:
        videos = [wait_final(api, v) for v in [upload(api, clip).json() for _ in range(4)]]
        assert {v["status"] for v in videos} == {"ready"}
        assert len({tuple(r["bytes"] for r in v["renditions"]) for v in videos}) == 1
        usage = api.get("/v1/usage").json()
    transcoded = [v for v in usage["per_video"] if v["cpu_seconds"] > 0]
    assert len(transcoded) == 1, usage["per_video"]
