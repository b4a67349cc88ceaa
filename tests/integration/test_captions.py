"""Caption tracks through the router: the API (WebVTT and SubRip in, WebVTT out, replaced per language,
refused with the line that is wrong) and the video page's form and player."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import Stack, sign_in
from tests.integration.videos import upload, wait_final

pytestmark = pytest.mark.integration

SRT = b"1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,000\nGoodbye\n"
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nBonjour\n"


@pytest.fixture()
def video(api: httpx.Client, clip: Path) -> dict:
    return wait_final(api, upload(api, clip, title="captioned").json())


def test_captions_in_subrip_or_webvtt_are_served_as_webvtt(
    stack: Stack,
    api: httpx.Client,
    video: dict,
) -> None:
    url = f"{video['url']}/captions/en"
    put = api.put(url, content=SRT, params={"label": "English"}, headers={"content-type": "application/x-subrip"})
    assert put.status_code == 200, put.text
    assert put.json() == {"lang": "en", "label": "English", "cues": 2, "bytes": put.json()["bytes"], "url": url}
    track = api.get(url)
    assert track.headers["content-type"].startswith("text/vtt")
    assert track.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n")
    api.put(f"{video['url']}/captions/fr", content=VTT)
    listed = api.get(video["url"]).json()["captions"]  # the cached video was invalidated
    assert [(c["lang"], c["label"], c["cues"]) for c in listed] == [("en", "English", 2), ("fr", "fr", 1)]
    # The same language again replaces the track.
    assert api.put(url, content=VTT, params={"label": "English (UK)"}).json()["cues"] == 1
    assert "Bonjour" in api.get(url).text
    assert [c["label"] for c in api.get(video["url"]).json()["captions"]] == ["English (UK)", "fr"]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert [c["lang"] for c in api.get(video["url"]).json()["captions"]] == ["fr"]
    folder = stack.media / "captions" / video["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["fr.vtt"]
    # Deleting the video takes its tracks with it, on disk too.
    assert api.delete(video["url"]).status_code == 204
    assert not folder.exists()


@pytest.mark.parametrize(
    ("body", "lang", "status", "detail"),
    [
        (b"WEBVTT\n\n00:01.000 -> 00:02.000\nx\n", "en", 422, "line 3: expected a timing line"),
        (b"just some words\n", "en", 422, "line 1: expected 'WEBVTT'"),
        (b"WEBVTT\n\n00:02.000 --> 00:01.000\nx\n", "en", 422, "ends (00:00:01.000) before it starts"),
        (b"", "en", 422, "empty"),
        (VTT, "english", 422, "not a language tag"),
        (VTT, "..%2F..%2Fetc", 404, "nothing at this address"),  # decoded to a path that names no route
        (VTT, "EN_us", 422, "not a language tag"),
        (b"WEBVTT\n" + b"x" * (600 * 1024), "en", 413, ""),
    ],
)
def test_bad_captions_are_refused_with_the_line_and_nothing_is_kept(
    stack: Stack,
    api: httpx.Client,
    video: dict,
    body: bytes,
    lang: str,
    status: int,
    detail: str,
) -> None:
    answer = api.put(f"{video['url']}/captions/{lang}", content=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert detail in answer.json()["detail"]
    assert api.get(video["url"]).json()["captions"] == []
    assert not (stack.media / "captions" / video["id"]).exists()


def test_captions_for_a_missing_video_are_404(api: httpx.Client) -> None:
    answer = api.put("/v1/videos/00000000-0000-4000-8000-000000000000/captions/en", content=VTT)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/problem+json")


def test_the_video_page_adds_plays_and_removes_captions(
    stack: Stack,
    key: str,
    api: httpx.Client,
    video: dict,
) -> None:
    with sign_in(stack, key) as page:
        url = f"/videos/{video['id']}"
        assert "has no captions yet" in page.get(url).text
        bad = page.post(
            f"{url}/captions",
            files={"file": ("bad.vtt", b"WEBVTT\n\n1 --> 2\nx\n", "text/vtt")},
            data={"lang": "de", "label": "Deutsch", "_csrf_token": page.cookies["reelgate_csrf"]},
        )
        assert bad.status_code == 422
        assert 'role="alert"' in bad.text and "line 3: expected a timing line" in bad.text
        assert 'value="de"' in bad.text and 'value="Deutsch"' in bad.text and 'aria-invalid="true"' in bad.text
        no_token = page.post(
            f"{url}/captions",
            files={"file": ("c.srt", SRT, "application/x-subrip")},
            data={"lang": "en", "label": "English"},
        )
        assert no_token.status_code == 403
        added = page.post(
            f"{url}/captions",
            files={"file": ("c.srt", SRT, "application/x-subrip")},
            data={"lang": "en", "label": "English", "_csrf_token": page.cookies["reelgate_csrf"]},
        )
        assert added.status_code == 303 and added.headers["location"] == f"{url}?done=captions-added#captions"
        html = page.get(added.headers["location"]).text
        assert "The captions were saved" in html
        track = re.search(r'<track kind="captions" src="([^"]+)" srclang="en"\s+label="English" default>', html)
        assert track, html
        assert page.get(track.group(1)).text.startswith("WEBVTT")
        assert "captions: en" in page.get("/library").text  # the newest video, so on the first page
        removed = page.post(f"{url}/captions/en/delete", data={"_csrf_token": page.cookies["reelgate_csrf"]})
        assert removed.status_code == 303
        assert "<track" not in page.get(url).text
    assert api.get(video["url"]).json()["captions"] == []
