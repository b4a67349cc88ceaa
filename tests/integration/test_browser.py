"""The pages in real headless Chromium (selenium): sign in, upload a generated clip, watch the progress
reach ready, download, add captions, play with them, delete, sign out — once with the mouse and once with
the keyboard only."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from reelgate.platform.stack import process_info, start_part, stop_part
from reelgate.plugins.axe import start_chromium
from tests.integration.stack import MAX_UPLOAD, Stack
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture()
def browser(downloads: Path) -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="reelgate-browser-")
    driver = start_chromium(profile, extra=("--autoplay-policy=no-user-gesture-required",))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _id(driver: Any, element_id: str) -> Any:
    return driver.find_element(By.ID, element_id)


def _wait_ready(driver: Any) -> None:
    """The upload page's own progress: both bars full and the live region saying so."""
    wait_for(lambda: _id(driver, "upload-done").is_displayed() or None, 90, "the upload page to say ready")
    assert _id(driver, "upload-progress").get_attribute("value") == "100"
    assert _id(driver, "processing-progress").get_attribute("value") == "100"
    status = _id(driver, "upload-status")
    assert status.text == "Ready to watch." and status.get_attribute("aria-live") == "polite"


def _plays(driver: Any) -> None:
    started = driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const v = document.querySelector('video');"
        "v.muted = true; v.play().then(() => done(true), (e) => done(String(e)));"
    )
    assert started is True, started
    wait_for(
        lambda: driver.execute_script("return document.querySelector('video').currentTime") > 0.3 or None,
        15,
        "the video to play",
    )


def _at(driver: Any, ending: str) -> None:
    """A click starts a navigation but does not wait for it: wait for the new address."""
    wait_for(lambda: driver.current_url.split("?")[0].endswith(ending) or None, 15, f"a page ending {ending}")


def _downloaded(folder: Path, name: str) -> Path:
    def done() -> Path | None:
        files = [p for p in folder.iterdir() if p.name.endswith(name) and not p.name.endswith(".crdownload")]
        return files[0] if files and files[0].stat().st_size > 1000 else None

    return wait_for(done, 30, f"the download of {name}")


def test_upload_watch_play_download_delete_sign_out(
    browser: Any, stack: Stack, clip: Path, downloads: Path, tmp_path: Path
) -> None:
    key = stack.tenant("browser-mouse")
    browser.get(f"{stack.router}/library")
    assert browser.current_url.endswith("/sign-in?next=%2Flibrary")
    _id(browser, "api-key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    _at(browser, "/library")
    assert "You have not uploaded any videos yet" in browser.page_source

    browser.find_element(By.LINK_TEXT, "Upload").click()
    _at(browser, "/upload")
    too_big = tmp_path / "big.mp4"
    too_big.write_bytes(b"\0" * (MAX_UPLOAD + 1))
    _id(browser, "file").send_keys(str(too_big))
    _id(browser, "upload-button").click()
    alert = _id(browser, "upload-error")
    assert alert.is_displayed() and "too large" in alert.text and alert.get_attribute("role") == "alert"
    _id(browser, "file").clear()
    _id(browser, "title").send_keys("Browser clip")
    _id(browser, "file").send_keys(str(clip))
    _id(browser, "upload-button").click()
    _wait_ready(browser)

    video_page = _id(browser, "video-link").get_attribute("href")
    _id(browser, "video-link").click()
    _at(browser, video_page.rsplit("/", 1)[1])
    assert browser.find_element(By.TAG_NAME, "h1").text == "Browser clip"
    browser.find_element(By.CSS_SELECTOR, "ul.downloads a[href*='/renditions/']").click()
    saved = _downloaded(downloads, ".mp4")
    assert saved.read_bytes()[4:8] == b"ftyp"

    captions = tmp_path / "captions.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:05,000\nA test pattern\n")
    _id(browser, "captions-file").send_keys(str(captions))
    _id(browser, "captions-add").click()
    # find_elements, not find_element: until the form's navigation lands there is no notice yet.
    wait_for(
        lambda: any("The captions were saved" in e.text for e in browser.find_elements(By.ID, "notice")) or None,
        15,
        "the captions notice",
    )
    # The browser loads the track (the CSP lets it) and shows its cue while the video plays.
    _plays(browser)
    cue = wait_for(
        lambda: browser.execute_script(
            "const t = document.querySelector('video').textTracks[0];"
            "return t && t.mode === 'showing' && t.activeCues && t.activeCues.length ? t.activeCues[0].text : null;"
        ),
        15,
        "the caption cue to show",
    )
    assert cue == "A test pattern"
    # It played as HLS through hls.js, from signed URLs: the master playlist, a variant, fMP4 segments.
    assert browser.execute_script("return document.getElementById('player').dataset.player") == "hls.js"
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    played = [url for url in fetched if "/play/" in url]
    assert any(url.endswith("/master.m3u8") for url in played), fetched
    assert any(url.endswith(".m4s") for url in played), fetched

    browser.find_element(By.LINK_TEXT, "Delete this video…").click()
    _at(browser, "/delete")
    browser.find_element(By.CSS_SELECTOR, "main button.danger").click()
    _at(browser, "/library")
    assert "Deleted “Browser clip”" in browser.find_element(By.CSS_SELECTOR, ".notice[role=status]").text

    browser.find_element(By.CSS_SELECTOR, ".sign-out button").click()
    _at(browser, "/sign-in")
    browser.get(f"{stack.router}/library")
    assert "/sign-in" in browser.current_url


def _active(driver: Any) -> Any:
    return driver.switch_to.active_element


def _press(driver: Any, *keys: str) -> None:
    """Real key presses to whatever has focus (element.send_keys on a file input would pick a file)."""
    ActionChains(driver).send_keys(*keys).perform()


def _tab_to(driver: Any, text: str, limit: int = 40) -> Any:
    """Press Tab until the focused element reads `text`; each stop must show a visible focus ring."""
    for _ in range(limit):
        _press(driver, Keys.TAB)
        element = _active(driver)
        label = (element.text or element.get_attribute("value") or element.get_attribute("id") or "").strip()
        if label == text:
            outline = driver.execute_script(
                "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth, s.boxShadow];",
                element,
            )
            assert outline[0] != "none" and outline[1] != "0px", f"no visible focus on {text!r}: {outline}"
            return element
    raise AssertionError(f"Tab never reached {text!r}")


def test_keyboard_only(browser: Any, stack: Stack, clip: Path) -> None:
    """Sign in, upload, watch, delete and sign out with Tab, Enter, Space and typing alone. (A file
    picker is the operating system's dialog, so the file path goes to the input the way the dialog
    would give it; the input itself is reached and left with Tab.)"""
    key = stack.tenant("browser-keyboard")
    browser.get(f"{stack.router}/sign-in")
    _press(browser, Keys.TAB)
    skip = _active(browser)
    assert skip.text == "Skip to main content"
    assert browser.execute_script("return arguments[0].getBoundingClientRect().top >= 0", skip)  # shown on focus
    _press(browser, Keys.ENTER)
    assert _active(browser).get_attribute("id") == "main"
    _press(browser, Keys.TAB)
    assert _active(browser).get_attribute("id") == "api-key"
    _press(browser, key, Keys.ENTER)
    _at(browser, "/library")

    _tab_to(browser, "Upload")
    _press(browser, Keys.ENTER)
    _at(browser, "/upload")
    _tab_to(browser, "title")
    _press(browser, "Keyboard clip")
    _tab_to(browser, "file").send_keys(str(clip))
    _tab_to(browser, "Upload")
    _press(browser, Keys.ENTER)
    _wait_ready(browser)
    _tab_to(browser, "Watch the video")
    _press(browser, Keys.ENTER)
    wait_for(lambda: "/videos/" in browser.current_url or None, 10, "the video page")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Keyboard clip"

    _tab_to(browser, "Delete this video…")
    _press(browser, Keys.ENTER)
    _at(browser, "/delete")
    _tab_to(browser, "Delete video")
    _press(browser, Keys.SPACE)
    _at(browser, "/library")
    assert "Deleted “Keyboard clip”" in browser.page_source
    _tab_to(browser, "Sign out")
    _press(browser, Keys.ENTER)
    _at(browser, "/sign-in")
    browser.get(f"{stack.router}/upload")
    assert "/sign-in" in browser.current_url


def test_library_updates_unfinished_videos_in_place(browser: Any, stack: Stack, media_dir: Path) -> None:
    # Long enough to still be processing when the page loads.
    clip = make_clip(media_dir / "library-720p.mp4", size="1280x720", seconds=6)
    key = stack.tenant("browser-library")
    browser.get(f"{stack.router}/sign-in")
    _id(browser, "api-key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    _at(browser, "/library")
    # The workers are held while the page loads, so the card is unfinished on every machine, however fast.
    held = [
        name
        for name, info in process_info(stack.settings).items()
        if name.startswith("worker-") and info["statename"] == "RUNNING"
    ]
    for name in held:
        stop_part(stack.settings, name)
    try:
        with stack.client(key) as api, clip.open("rb") as fh:
            data = {"title": "Live card"}
            video = api.post("/v1/videos", files={"file": ("c.mp4", fh, "video/mp4")}, data=data).json()
        browser.get(f"{stack.router}/library")
        card = browser.find_element(By.CSS_SELECTOR, f'.card[data-video-id="{video["id"]}"]')
        assert card.get_attribute("data-status") == "queued"
        browser.execute_script("window.notReloaded = true;")
    finally:
        for name in held:
            start_part(stack.settings, name)
    wait_for(lambda: card.get_attribute("data-status") == "ready" or None, 60, "the card to turn ready")
    assert browser.execute_script("return window.notReloaded === true;")  # updated in place
    assert card.find_element(By.CSS_SELECTOR, ".status").text == "Ready"
    assert card.find_element(By.TAG_NAME, "img").get_attribute("alt") == ""
    assert _id(browser, "library-status").get_attribute("textContent") == "“Live card” is ready."
