from __future__ import annotations

import time
from pathlib import Path

import pytest

from reelgate.platform.http.files import parse_range
from reelgate.platform.infra.errors import RangeNotSatisfiable
from reelgate.platform.pipeline.media import MediaStore, display_text, safe_filename


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_range(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("clip.mp4", "clip.mp4"),
        ("", "upload"),
        (None, "upload"),
        ("..", "upload"),
        ("a\x00b\nc.mp4", "a_b_c.mp4"),
        ("x" * 500 + ".mp4", "x" * 200),
    ],
)
def test_safe_filename(given: str | None, stored: str) -> None:
    assert safe_filename(given) == stored


def test_media_store_refuses_paths_outside(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    assert store.resolve("outputs/abc") == (tmp_path / "outputs/abc").resolve()
    with pytest.raises(ValueError):
        store.resolve("../../etc")


def test_display_text_drops_what_postgresql_or_a_page_cannot_show() -> None:
    assert display_text("  My\x00 clip\r\n\tfinal\x7f ") == "My clip final"
    assert display_text("é ¯ 𝄞") == "é ¯ 𝄞"  # any printable character stays
    assert display_text("x" * 600) == "x" * 500


def test_deleted_media_wait_in_the_trash_for_the_grace_period(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, grace_s=3600)
    (tmp_path / "sources" / "v1").write_bytes(b"source")
    (tmp_path / "outputs" / "o1").mkdir()
    (tmp_path / "outputs" / "o1" / "360.mp4").write_bytes(b"rendition")
    store.discard(["sources/v1", "outputs/o1", "sources/never-there"])
    assert not (tmp_path / "sources" / "v1").exists() and not (tmp_path / "outputs" / "o1").exists()
    assert store.collect() == 0  # inside the grace period: kept
    assert store.untrash("outputs/o1") and (tmp_path / "outputs" / "o1" / "360.mp4").read_bytes() == b"rendition"
    assert not store.untrash("outputs/o1")  # put back once
    assert store.collect(now=time.time() + 3601) == 1
    assert not store.untrash("sources/v1") and not list((tmp_path / "trash").iterdir())


def test_without_a_grace_period_deleted_media_go_at_once(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    (tmp_path / "captions" / "v1").mkdir()
    (tmp_path / "captions" / "v1" / "en.vtt").write_text("WEBVTT\n")
    store.discard(["captions/v1"])
    assert not (tmp_path / "captions" / "v1").exists() and not list((tmp_path / "trash").iterdir())
