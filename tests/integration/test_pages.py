"""The web pages over HTTP, through the router: sessions, CSRF, the upload form with and without
JavaScript, error pages, security headers and cacheable assets. (The browser flows are in
test_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import MAX_UPLOAD, Stack, sign_in
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def page(stack: Stack, key: str) -> Iterator[httpx.Client]:
    with sign_in(stack, key) as client:
        yield client


def _csrf(client: httpx.Client) -> str:
    return client.cookies["reelgate_csrf"]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_pages_need_a_session_and_sign_in_returns_to_the_page(stack: Stack, key: str) -> None:
    with httpx.Client(base_url=stack.router, headers={"Accept": "text/html"}) as browser:
        first = browser.get("/usage")
        assert first.status_code == 303 and first.headers["location"] == "/sign-in?next=%2Fusage"
        form = browser.get(first.headers["location"])
        assert 'name="next" value="/usage"' in form.text
        wrong = browser.post(
            "/sign-in", data={"api_key": "rg_not-a-key", "next": "/usage", "_csrf_token": _csrf(browser)}
        )
        assert wrong.status_code == 401 and 'role="alert"' in wrong.text and "not valid" in wrong.text
        ok = browser.post("/sign-in", data={"api_key": key, "next": "/usage", "_csrf_token": _csrf(browser)})
        assert ok.status_code == 303 and ok.headers["location"] == "/usage"
        cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("reelgate_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain HTTP here
        assert key not in cookie  # the cookie names the key's id, never the key
        assert "Usage" in browser.get("/usage").text
        # The session is not a Bearer key: /v1 stays Bearer-only.
        assert browser.get("/v1/usage").status_code == 401
        # Signing out ends it.
        out = browser.post("/sign-out", data={"_csrf_token": _csrf(browser)})
        assert out.status_code == 303
        assert browser.get("/usage").status_code == 303


def test_cookies_are_secure_behind_tls_and_open_redirects_are_refused(stack: Stack, key: str) -> None:
    for proto, secure in (("https", True), ("http", False)):
        csrf = httpx.get(f"{stack.router}/sign-in", headers={"X-Forwarded-Proto": proto}).headers["set-cookie"]
        assert csrf.startswith("reelgate_csrf=") and ("Secure" in csrf) is secure
    with httpx.Client(base_url=stack.router, headers={"Accept": "text/html"}) as browser:
        browser.get("/sign-in")
        response = browser.post(
            "/sign-in",
            headers={"X-Forwarded-Proto": "https"},
            data={"api_key": key, "next": "//evil.example/x", "_csrf_token": _csrf(browser)},
        )
        assert response.headers["location"] == "/library"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("reelgate_session="))
        assert "Secure" in cookie


def test_forged_and_tampered_sessions_are_refused(stack: Stack, key: str, page: httpx.Client) -> None:
    value = page.cookies["reelgate_session"]
    with httpx.Client(base_url=stack.router, headers={"Accept": "text/html"}) as other:
        other.cookies.set("reelgate_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
        assert other.get("/library").status_code == 303


def test_every_form_needs_its_csrf_token(page: httpx.Client) -> None:
    no_token = page.post("/sign-out")
    assert no_token.status_code == 403 and "expired" in no_token.text
    wrong = page.post("/sign-out", data={"_csrf_token": "0" * 128})
    assert wrong.status_code == 403
    assert page.get("/library").status_code == 200  # still signed in
    # A token with non-ASCII characters is refused like any wrong token, not a 500.
    odd = _csrf(page).encode() + b"\xe9"
    assert page.post("/sign-out", headers={"x-csrftoken": odd}).status_code == 403  # type: ignore[arg-type]
    assert page.post("/sign-out", data={"_csrf_token": _csrf(page) + "é"}).status_code == 403


def test_upload_without_javascript_and_with_xhr(page: httpx.Client, clip: Path, media_dir: Path) -> None:
    # No JavaScript: the form field carries the token, and the answer is a redirect to the video page.
    with clip.open("rb") as fh:
        plain = page.post(
            "/upload",
            data={"_csrf_token": _csrf(page), "title": "Plain form"},
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert plain.status_code == 303 and plain.headers["location"].startswith("/videos/")
    # XHR: the token in the header, JSON back with the page and its event stream.
    with clip.open("rb") as fh:
        xhr = page.post(
            "/upload",
            headers={"x-csrftoken": _csrf(page), "Accept": "application/json"},
            data={"title": "Through XHR"},
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert xhr.status_code == 202, xhr.text
    body = xhr.json()
    events = page.get(body["events"], headers={"Accept": "text/event-stream"}, timeout=60)
    assert "event: ready" in events.text
    video = page.get(body["page"])
    assert video.status_code == 200 and "<video" in video.text and "Through XHR" in video.text
    rendition = re.search(r'<source src="([^"]+)"', video.text)
    assert rendition is not None
    download = page.get(rendition.group(1), headers={"Range": "bytes=0-99"})
    assert download.status_code == 206 and len(download.content) == 100
    thumb = page.get(f"{body['page']}/thumbnail")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    # The library lists both, with their thumbnails once ready.
    library = page.get("/library").text
    assert "Plain form" in library and "Through XHR" in library


def test_upload_without_a_token_is_refused_and_nothing_is_kept(page: httpx.Client, clip: Path, stack: Stack) -> None:
    before = set((stack.media / "tmp").iterdir())
    with clip.open("rb") as fh:
        forged = page.post("/upload", data={"title": "forged"}, files={"file": ("clip.mp4", fh, "video/mp4")})
    assert forged.status_code == 403 and "expired" in forged.text
    with clip.open("rb") as fh:
        odd = page.post(
            "/upload",
            headers={"x-csrftoken": _csrf(page).encode() + b"\xe9"},  # type: ignore[arg-type]  # raw bytes
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert odd.status_code == 403
    assert set((stack.media / "tmp").iterdir()) == before
    assert "forged" not in page.get("/library").text


def test_error_pages_match_the_api_problems(page: httpx.Client, stack: Stack, tmp_path: Path) -> None:
    missing = page.get("/videos/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text
    assert "There is no video 00000000-0000-0000-0000-000000000000." in _text(missing.text)
    nowhere = page.get("/no/such/page")
    assert nowhere.status_code == 404 and "There is nothing at this address." in nowhere.text
    # The same address without Accept: text/html keeps problem+json, and /v1 always does.
    assert page.get("/no/such/page", headers={"Accept": "*/*"}).headers["content-type"] == "application/problem+json"
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 1024))
    with big.open("rb") as fh:
        too_large = page.post("/upload", data={"_csrf_token": _csrf(page)}, files={"file": ("big.mp4", fh)})
    assert too_large.status_code == 413 and "That file is too large" in too_large.text
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with text.open("rb") as fh:
        bad = page.post("/upload", data={"_csrf_token": _csrf(page)}, files={"file": ("notes.mp4", fh)})
    assert bad.status_code == 422 and "That file could not be used" in bad.text
    assert "Traceback" not in bad.text + too_large.text


def test_rate_limited_pages_say_when_to_come_back(stack: Stack) -> None:
    limited = stack.tenant("pages-limited", "--rate-limit", "3")
    with sign_in(stack, limited) as browser:
        statuses = [browser.get("/library").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
        page = browser.get("/library")
        assert "Too many requests" in page.text and "try again in" in _text(page.text)
        assert page.headers["retry-after"].isdigit()


def test_security_headers_and_cacheable_assets(page: httpx.Client) -> None:
    for path in ("/library", "/upload", "/usage", "/sign-in", "/nowhere"):
        headers = page.get(path).headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
    html = page.get("/upload").text
    assets = re.findall(r'(?:href|src)="(/static/[0-9a-f]{12}/[^"]+)"', html)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"app.css", "progress.js", "upload.js"}
    assert "<script>" not in html and "style=" not in html  # nothing inline, so the CSP holds
    for asset in assets:
        response = page.get(asset)
        assert response.status_code == 200
        cache_control = response.headers["cache-control"]
        assert "immutable" in cache_control and "max-age=31536000" in cache_control
    stale = page.get("/static/000000000000/app.css")
    assert stale.status_code == 404


def test_delete_asks_first_then_removes(page: httpx.Client, clip: Path) -> None:
    with clip.open("rb") as fh:
        made = page.post(
            "/upload",
            data={"_csrf_token": _csrf(page), "title": "To delete"},
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    video_page = made.headers["location"]
    wait_for(lambda: "status-ready" in page.get(video_page).text or None, 60, "the video to be ready")
    confirm = page.get(f"{video_page}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    gone = page.post(f"{video_page}/delete", data={"_csrf_token": _csrf(page)})
    assert gone.status_code == 303 and "deleted=To+delete" in gone.headers["location"]
    assert "Deleted “To delete”" in page.get(gone.headers["location"]).text
    assert page.get(video_page).status_code == 404


def test_usage_page_shows_minutes_storage_and_cost(page: httpx.Client) -> None:
    usage = page.get("/usage")
    assert usage.status_code == 200
    text = _text(usage.text)
    assert "Minutes processed" in text and "Storage" in text and "Estimated cost" in text
    assert 'class="bars"' in usage.text and "<caption" in usage.text


def test_another_tenants_video_page_is_not_found(stack: Stack, page: httpx.Client, clip: Path) -> None:
    with clip.open("rb") as fh:
        made = page.post(
            "/upload", data={"_csrf_token": _csrf(page), "title": "Mine"}, files={"file": ("clip.mp4", fh, "video/mp4")}
        )
    video_page = made.headers["location"]
    with sign_in(stack, stack.tenant("pages-other")) as other:
        for path in (video_page, f"{video_page}/delete", f"{video_page}/thumbnail", f"{video_page}/events"):
            assert other.get(path).status_code == 404, path
        assert other.post(f"{video_page}/delete", data={"_csrf_token": _csrf(other)}).status_code == 404


def test_library_pages_through_every_video(stack: Stack, clip: Path) -> None:
    key = stack.tenant("pages-many")
    with stack.client(key) as api:
        for i in range(13):  # the same content: finished outputs are reused, so these are quick
            with clip.open("rb") as fh:
                assert (
                    api.post(
                        "/v1/videos", files={"file": ("c.mp4", fh, "video/mp4")}, data={"title": f"Clip {i:02d}"}
                    ).status_code
                    == 202
                )
    with sign_in(stack, key) as browser:
        first = browser.get("/library").text
        assert first.count('class="card"') == 12 and "Clip 12" in first and "Clip 00" not in first
        older = re.search(r'href="(/library\?cursor=[^"]+)" rel="next"', first)
        assert older is not None
        second = browser.get(older.group(1).replace("&amp;", "&")).text
        assert second.count('class="card"') == 1 and "Clip 00" in second and 'rel="next"' not in second
        assert 'href="/library">Newest videos' in second
        bad = browser.get("/library?cursor=not-a-cursor")
        assert bad.status_code == 400 and "start from the first page" in bad.text


def test_a_failed_video_says_why_in_plain_words(page: httpx.Client, media_dir: Path) -> None:
    whole = make_clip(media_dir / "front-index.mp4", seconds=2, extra=("-movflags", "+faststart"))
    cut = media_dir / "cut-for-page.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the index promises missing frames
    with cut.open("rb") as fh:
        made = page.post(
            "/upload",
            data={"_csrf_token": _csrf(page), "title": "Broken upload"},
            files={"file": ("cut.mp4", fh, "video/mp4")},
        )
    video_page = made.headers["location"]

    def failed() -> str | None:
        text = page.get(video_page).text
        return text if "status-failed" in text else None

    html = wait_for(failed, 60, "the video to fail")
    alert = re.search(r'<div class="notice error" role="alert">(.*?)</div>', html, re.S)
    assert alert is not None and "could not be processed" in alert.group(1)
    assert "The video could not be decoded" in _text(alert.group(1))
    assert "<video" not in html and "Downloads" not in html
    assert "Failed" in _text(page.get("/library").text)


def test_library_status_answers_for_this_tenants_videos_only(stack: Stack, page: httpx.Client, clip: Path) -> None:
    with clip.open("rb") as fh:
        mine = (
            page.post(
                "/upload",
                data={"_csrf_token": _csrf(page), "title": "Status"},
                files={"file": ("clip.mp4", fh, "video/mp4")},
            )
            .headers["location"]
            .rsplit("/", 1)[1]
        )
    with stack.client(stack.tenant("pages-status-other")) as other_api, clip.open("rb") as fh:
        theirs = other_api.post("/v1/videos", files={"file": ("c.mp4", fh, "video/mp4")}).json()["id"]
    answer = page.get("/library/status", params=[("id", mine), ("id", theirs)], headers={"Accept": "application/json"})
    assert answer.status_code == 200
    videos = answer.json()["videos"]
    assert [v["id"] for v in videos] == [mine]
    assert videos[0]["status"] in ("queued", "processing", "ready") and 0 <= videos[0]["progress"] <= 1
    bad = page.get("/library/status", params={"id": "not-a-uuid"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
