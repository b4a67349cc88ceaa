"""`mp4 = false`: a stack that writes HLS instead of MP4 renditions. The video plays through its signed
master playlist; a rendition download is a 404 that says why; usage counts what is on disk; and the
video-quality gate reads a rendition from the HLS stream when there is no MP4 to download."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from reelgate.platform.pipeline.transcode import ffmpeg_path
from reelgate.plugins.vmaf import VmafGate
from tests.integration.stack import Stack, running_stack, sign_in
from tests.integration.videos import upload, wait_final
from tests.media import ffprobe, make_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def hls_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, dict[str, Any]]]:
    source = make_clip(tmp_path_factory.mktemp("hls-only") / "clip.mp4", size="854x480", seconds=5)
    with running_stack(REELGATE_MP4="false") as stack:
        key = stack.tenant("hls-only")
        with stack.client(key) as api:
            video = wait_final(api, upload(api, source).json())
        assert video["status"] == "ready", video["failure_reason"]
        yield stack, key, video


def test_renditions_are_streams_not_downloads(hls_only: tuple[Stack, str, dict[str, Any]]) -> None:
    stack, key, video = hls_only
    assert video["hls"] is True
    assert [(r["name"], r["url"]) for r in video["renditions"]] == [("480p", None), ("360p", None)]
    with stack.client(key) as api:
        refused = api.get(f"{video['url']}/renditions/480p")
        assert refused.status_code == 404
        assert "made as HLS only" in refused.json()["detail"] and "/playback" in refused.json()["detail"]
        urls = api.get(video["playback_url"]).json()
        assert urls["mp4_urls"] == {}
    streams = ffprobe(stack.router + urls["hls_url"])["streams"]
    assert sorted((s["width"], s["height"]) for s in streams if s["codec_type"] == "video") == [(640, 360), (854, 480)]
    with sign_in(stack, key) as browser:
        page = browser.get(f"/videos/{video['id']}").text
    assert f'data-hls="{urls["hls_url"].rsplit("/", 4)[0]}' in page  # the player streams it
    assert 'type="video/mp4"' not in page and "/renditions/" not in page  # no MP4 to fall back on or download
    assert "854×480 HLS stream" in page


def test_usage_counts_the_variants_once(hls_only: tuple[Stack, str, dict[str, Any]]) -> None:
    stack, key, video = hls_only
    with psycopg.connect(stack.settings.db_url) as conn:
        (folder,) = conn.execute(  # type: ignore[misc]
            "SELECT o.dir FROM videos v JOIN outputs o ON o.id = v.output_id WHERE v.id = %s", (video["id"],)
        ).fetchone()
    out = stack.media / folder
    assert not list(out.glob("*.mp4"))
    for rendition in video["renditions"]:
        variant = [f for f in (out / "hls").iterdir() if f.name.startswith(f"{rendition['name']}")]
        assert rendition["bytes"] == sum(f.stat().st_size for f in variant)
    with stack.client(key) as api:
        usage = api.get("/v1/usage").json()
    assert usage["output_bytes"] == sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def test_the_quality_gate_reads_a_rendition_from_the_stream(
    hls_only: tuple[Stack, str, dict[str, Any]], tmp_path: Path
) -> None:
    stack, key, video = hls_only
    rendition = video["renditions"][-1]
    copy = tmp_path / "360p.mp4"

    async def fetch() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=stack.router, headers=headers, timeout=30) as client:
            await VmafGate()._fetch(client, ffmpeg_path(), video, rendition, copy)

    asyncio.run(fetch())
    streams = ffprobe(copy)["streams"]
    assert [(s["width"], s["height"]) for s in streams if s["codec_type"] == "video"] == [(640, 360)]
    frames = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(copy)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert int(frames) == 5 * 25  # every frame of the 5 s at 25 fps


def test_the_shipped_scenarios_pass_or_say_which_setting_they_need(
    hls_only: tuple[Stack, str, dict[str, Any]], tmp_path: Path
) -> None:
    """Before, `upload-and-play` captured the null MP4 URL of an HLS-only rendition and requested `.../None`.
    Now it needs MP4 downloads and is skipped with that reason; `upload-and-stream` plays the stream."""
    stack, key, _ = hls_only
    shipped = Path(__file__).resolve().parents[2] / "scenarios"
    out = tmp_path / "gate"
    run = stack.cli(
        "gate", "run", "scenario", "--target", stack.router, "--api-key", key,
        "--set", f'files=["{shipped}/*.yaml"]', "--out", str(out), check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "scenarios_skipped" in run.stdout and "needs MP4 downloads" in run.stdout
    ran = stack.cli("scenario", "run", str(shipped / "upload-and-play.yaml"), "--target", stack.router,
                    "--api-key", key, check=False)  # fmt: skip
    assert ran.returncode == 0 and ran.stdout.startswith("SKIP ") and "None" not in ran.stdout
