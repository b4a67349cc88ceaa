"""The one pass writes HLS beside the MP4s: variants with aligned fMP4 segments and a master playlist."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from reelgate.platform.pipeline import ladder
from reelgate.platform.pipeline.probe import probe
from reelgate.platform.pipeline.progress import Progress
from reelgate.platform.pipeline.transcode import Plan, build, codecs, run, variant_bytes
from tests.media import make_clip


async def _ignore(_progress: Progress) -> None:
    return None


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    folder = tmp_path_factory.mktemp("hls")
    source = make_clip(folder / "in.mp4", size="640x360", seconds=9)
    info = asyncio.run(probe(source))
    out = folder / "out"
    out.mkdir()
    # The 360p source conforms, so its rung is copied; 240p and 144p are encoded.
    plan = build(source, out, info, ladder.plan(info.width, info.height, [360, 240, 144]), hls=True)
    assert [o.remuxed for o in plan.outputs] == [True, False, False]
    asyncio.run(run(plan, _ignore, timeout_s=120))
    return out, plan


@pytest.fixture(scope="module")
def outputs(made: tuple[Path, Plan]) -> Path:
    return made[0]


def test_mp4s_and_hls_come_from_one_ffmpeg(outputs: Path) -> None:
    assert sorted(p.name for p in outputs.glob("*.mp4")) == ["144p.mp4", "240p.mp4", "360p.mp4"]
    hls = outputs / "hls"
    for name in ("360p", "240p", "144p"):
        assert (hls / f"{name}.m3u8").is_file() and (hls / f"{name}_init.mp4").is_file()
    assert len(list(hls.glob("240p_*.m4s"))) == 3  # 9 s in 4-second segments


def test_the_encoded_rungs_share_one_audio_encode(made: tuple[Path, Plan]) -> None:
    """One AAC encoder for the ladder: the encoded rungs carry the same audio packets; the copied rung
    keeps the source's own audio, as it keeps its video."""
    folder = made[0]

    def audio(file: str) -> tuple[str, str]:
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "a",
                "-show_entries",
                "stream=channels",
                "-of",
                "csv=p=0",
                str(folder / file),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        packets = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(folder / file), "-map", "0:a", "-c", "copy", "-f", "md5", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return probe, packets  # fmt: skip

    command = made[1].command
    assert [command[i + 1] for i, arg in enumerate(command) if arg.startswith("-c:a")] == ["copy", "aac"]
    assert audio("240p.mp4") == audio("144p.mp4")
    assert audio("240p.mp4")[0] == "2"
    assert audio("360p.mp4")[0] == "1"  # the source's mono AAC, copied


def test_master_playlist_lists_each_variant_with_its_codecs(outputs: Path) -> None:
    master = (outputs / "hls" / "master.m3u8").read_text().splitlines()
    assert master[0] == "#EXTM3U"
    infs = [line for line in master if line.startswith("#EXT-X-STREAM-INF:")]
    assert [master[master.index(i) + 1] for i in infs] == ["360p.m3u8", "240p.m3u8", "144p.m3u8"]
    assert "RESOLUTION=640x360" in infs[0] and 'CODECS="avc1.64' in infs[0] and ',mp4a.40.2"' in infs[0]
    peak = int(infs[0].split("BANDWIDTH=")[1].split(",")[0])
    average = int(infs[0].split("AVERAGE-BANDWIDTH=")[1].split(",")[0])
    assert peak >= average > 0


def test_ffprobe_reads_the_master_playlist(outputs: Path) -> None:
    found = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(outputs / "hls" / "master.m3u8")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["streams"]
    sizes = sorted((s["width"], s["height"]) for s in found if s["codec_type"] == "video")
    assert sizes == [(256, 144), (426, 240), (640, 360)]
    assert {s["codec_name"] for s in found} == {"h264", "aac"}


def test_encoded_rungs_segments_line_up(outputs: Path) -> None:
    """A copied rung keeps the source's keyframes, so only the encoded rungs are cut at the same times."""

    def durations(name: str) -> list[str]:
        text = (outputs / "hls" / f"{name}.m3u8").read_text()
        return [line for line in text.splitlines() if line.startswith("#EXTINF:")]

    assert durations("240p") == durations("144p") == ["#EXTINF:4.000000,", "#EXTINF:4.000000,", "#EXTINF:1.000000,"]


def test_codecs_come_from_the_init_segments_avcc() -> None:
    avcc = b"\x00\x00\x00\x10avcC\x01\x64\x00\x1f\xff"
    assert codecs(b"...." + avcc + b"....mp4a....") == "avc1.64001f,mp4a.40.2"
    assert codecs(b"...." + avcc) == "avc1.64001f"


def test_hls_only_writes_the_variants_instead_of_mp4s(tmp_path: Path) -> None:
    """`mp4 = false`: the same pass, with each rung written only as its HLS variant."""
    source = make_clip(tmp_path / "in.mp4", size="640x360", seconds=5)
    info = asyncio.run(probe(source))
    out = tmp_path / "out"
    out.mkdir()
    plan = build(source, out, info, ladder.plan(info.width, info.height, [360, 240]), hls=True, mp4=False)
    assert [o.file for o in plan.outputs] == ["hls/360p.m3u8", "hls/240p.m3u8"]
    asyncio.run(run(plan, _ignore, timeout_s=120))
    assert not list(out.glob("*.mp4"))
    hls = out / "hls"
    assert "240p.m3u8" in (hls / "master.m3u8").read_text()
    variant = [hls / "240p.m3u8", hls / "240p_init.mp4", *sorted(hls.glob("240p_*.m4s"))]
    assert len(variant) == 4  # 5 s in 4-second segments
    assert variant_bytes(hls, "240p") == sum(f.stat().st_size for f in variant)
    with pytest.raises(ValueError, match="MP4, HLS or both"):
        build(source, out, info, ladder.plan(info.width, info.height, [240]), hls=False, mp4=False)
