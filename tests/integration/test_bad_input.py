"""Bad uploads get a clear 4xx problem+json (or `failed` with a reason): never a 5xx,
nothing stuck, nothing left in the media store's temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import MAX_UPLOAD, Stack
from tests.integration.videos import upload, wait_final
from tests.media import ffmpeg, make_clip

pytestmark = [pytest.mark.integration]


def assert_problem(answer: httpx.Response, status: int, words: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == status
    assert words.lower() in body["detail"].lower(), body["detail"]
    assert "Traceback" not in answer.text
    return body


def tmp_is_empty(stack: Stack) -> bool:
    return not any((stack.media / "tmp").iterdir())


def sources(stack: Stack) -> set[str]:
    return {p.name for p in (stack.media / "sources").iterdir()}


@pytest.fixture()
def truncated(media_dir: Path) -> dict[str, Path]:
    whole_end = make_clip(media_dir / "moov-end.mp4", seconds=2)
    whole_front = make_clip(media_dir / "moov-front.mp4", seconds=2, extra=("-movflags", "+faststart"))
    cut_end = media_dir / "cut-end.mp4"
    cut_end.write_bytes(whole_end.read_bytes()[: whole_end.stat().st_size // 2])
    cut_front = media_dir / "cut-front.mp4"
    cut_front.write_bytes(whole_front.read_bytes()[: whole_front.stat().st_size // 2])
    return {"index-at-end": cut_end, "index-at-front": cut_front}


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("empty.mp4", b"", 422, "empty"),
        ("notes.mp4", b"this is plain text, not a video\n" * 20, 422, "not a readable video"),
    ],
)
def test_not_a_video_is_refused(
    stack: Stack, api: httpx.Client, name: str, content: bytes, status: int, words: str
) -> None:
    before = sources(stack)
    answer = api.post("/v1/videos", files={"file": (name, content, "video/mp4")})
    assert_problem(answer, status, words)
    assert tmp_is_empty(stack) and sources(stack) == before


def test_truncated_without_index_is_refused(stack: Stack, api: httpx.Client, truncated: dict[str, Path]) -> None:
    before = sources(stack)
    assert_problem(upload(api, truncated["index-at-end"]), 422, "not a readable video")
    assert tmp_is_empty(stack) and sources(stack) == before


def test_truncated_with_index_fails_with_a_reason(api: httpx.Client, truncated: dict[str, Path]) -> None:
    """The index promises frames the file does not hold: only decoding finds out (`-xerror`)."""
    answer = upload(api, truncated["index-at-front"])
    assert answer.status_code == 202, answer.text
    video = wait_final(api, answer.json())
    assert video["status"] == "failed"
    assert video["failure_reason"].startswith("The video could not be decoded")
    assert video["renditions"] == []


def test_audio_only_is_refused(stack: Stack, api: httpx.Client, media_dir: Path) -> None:
    audio = media_dir / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:a", "aac", str(audio))
    assert_problem(upload(api, audio, "tone.mp4"), 422, "audio only")
    assert tmp_is_empty(stack)


def test_image_is_refused(stack: Stack, api: httpx.Client, media_dir: Path) -> None:
    image = media_dir / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(image))
    assert_problem(upload(api, image, "still.mp4"), 422, "still image")
    jpeg = media_dir / "still.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(jpeg))
    assert_problem(upload(api, jpeg), 422, "still image")


def test_unsupported_codec_is_refused(stack: Stack, api: httpx.Client, media_dir: Path) -> None:
    """An AVI whose video FourCC names no codec ffmpeg knows."""
    avi = media_dir / "raw.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5", "-t", "1", "-c:v", "ffv1", str(avi))
    data = avi.read_bytes()
    assert data.count(b"FFV1") >= 1
    weird = media_dir / "weird.avi"
    weird.write_bytes(data.replace(b"FFV1", b"QQQ9"))
    body = assert_problem(upload(api, weird), 422, "")
    assert "codec" in body["detail"].lower() or "readable" in body["detail"].lower()
    assert tmp_is_empty(stack)


def test_over_the_size_limit_is_413(stack: Stack, api: httpx.Client, media_dir: Path) -> None:
    big = media_dir / "big.mp4"
    big.write_bytes(os.urandom(MAX_UPLOAD + 1024))
    before = sources(stack)
    assert_problem(upload(api, big), 413, "limit")
    # Streamed without Content-Length (chunked), the limit still holds while receiving.
    with big.open("rb") as fh:

        def chunks():
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n\r\n'
            while chunk := fh.read(1 << 20):
                yield chunk
            yield b"\r\n--b--\r\n"

        answer = api.post("/v1/videos", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_problem(answer, 413, "limit")
    assert tmp_is_empty(stack) and sources(stack) == before


def test_missing_file_field_is_400(stack: Stack, api: httpx.Client) -> None:
    answer = api.post("/v1/videos", data={"title": "no file"}, files={"title2": ("", b"")})
    assert answer.status_code == 400
    answer = api.post(
        "/v1/videos",
        data={"title": "only a title"},
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        content=b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nhi\r\n--x--\r\n',
    )
    assert_problem(answer, 400, "no 'file' field")
    assert tmp_is_empty(stack)


def test_unknown_form_field_is_400(stack: Stack, api: httpx.Client, clip: Path) -> None:
    with clip.open("rb") as fh:
        answer = api.post("/v1/videos", files={"file": ("c.mp4", fh, "video/mp4")}, data={"colour": "red"})
    assert_problem(answer, 400, "unknown form field 'colour'")
    assert tmp_is_empty(stack)


def test_wrong_content_type_is_415(api: httpx.Client) -> None:
    assert_problem(api.post("/v1/videos", json={"file": "x"}), 415, "multipart/form-data")
    assert_problem(
        api.post("/v1/videos", content=b"\x00" * 100, headers={"Content-Type": "video/mp4"}), 415, "multipart/form-data"
    )


def test_hostile_filename_is_sanitised(stack: Stack, api: httpx.Client, clip: Path) -> None:
    answer = upload(api, clip, name="../../etc/passwd")
    assert answer.status_code == 202, answer.text
    assert answer.json()["filename"] == "passwd"
    escaped = [p for p in stack.media.parent.rglob("passwd")]
    assert escaped == [], "nothing may be written under a name the user chose"


def test_unknown_json_fields_are_400(api: httpx.Client, clip: Path) -> None:
    video = upload(api, clip).json()
    body = assert_problem(api.patch(video["url"], json={"title": "ok", "owner": "mallory"}), 400, "owner")
    assert body["errors"]
    assert_problem(api.patch(video["url"], content=b"{not json", headers={"Content-Type": "application/json"}), 400, "")
    renamed = api.patch(video["url"], json={"title": "renamed"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "renamed"


def test_no_key_and_bad_key_are_401(stack: Stack) -> None:
    with stack.client(None) as anonymous:
        body = assert_problem(anonymous.get("/v1/videos"), 401, "Authorization: Bearer")
        assert body["instance"] == "/v1/videos"
    with stack.client("rg_not-a-real-key") as wrong:
        assert_problem(wrong.get("/v1/videos"), 401, "not valid")


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, "nothing at this address")
    assert api.put("/v1/videos").status_code == 405


def test_control_characters_in_titles_are_dropped_not_a_500(api: httpx.Client, clip: Path) -> None:
    """PostgreSQL refuses NUL in text; schemathesis found a PATCH that made it a 500."""
    video = upload(api, clip, title="Up\x00loaded\r\n title").json()
    assert video["title"] == "Up loaded title"
    renamed = api.patch(video["url"], json={"title": "\u00af?\x00\x0c\u00df\x07 end"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "\u00af? \u00df end"
