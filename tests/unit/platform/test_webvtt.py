"""Caption files: what is accepted, what it becomes, and where a bad one is wrong."""

from __future__ import annotations

import pytest

from reelgate.platform.pipeline import webvtt

VTT = b"""WEBVTT - made by hand

NOTE a comment block is not a cue

intro
00:00.000 --> 00:01.500 align:start
Hello <i>there</i>

00:00:01.500 --> 00:00:03.000
Second line one
Second line two
"""

SRT = (
    "\ufeff1\r\n00:00:00,000 --> 00:00:01,250\r\nBonjour\r\n\r\n2\r\n00:00:01,250 --> 01:02:03,004\r\nÇa va ?\r\n"
).encode()


def test_webvtt_cues_keep_text_and_settings_and_skip_notes() -> None:
    cues = webvtt.parse(VTT)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(0, 1500), (1500, 3000)]
    assert cues[0].text == "Hello <i>there</i>" and cues[0].settings == "align:start"
    assert cues[1].text == "Second line one\nSecond line two"


def test_subrip_becomes_webvtt() -> None:
    cues = webvtt.parse(SRT)
    assert [c.text for c in cues] == ["Bonjour", "Ça va ?"]
    assert cues[1].end_ms == ((1 * 60 + 2) * 60 + 3) * 1000 + 4
    assert webvtt.to_webvtt(cues) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nBonjour\n\n00:00:01.250 --> 01:02:03.004\nÇa va ?\n"
    )
    # What we write, we read back the same.
    assert webvtt.parse(webvtt.to_webvtt(cues).encode()) == cues


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"WEBVTT\n\nNOTE only a note\n", "no cues"),
        (b"hello world\n", "line 1: expected 'WEBVTT'"),
        (b"\n\nWEBVTT\n\n00:01.000 -> 00:02.000\nx\n", "line 5: expected a timing line"),
        (b"WEBVTT\n\n00:02.000 --> 00:01.000\nx\n", "line 3: the cue ends (00:00:01.000) before it starts"),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\nx\n00:02.000 --> 00:03.000\ny\n", "line 5: expected cue text"),
        (b"WEBVTT\n\n00:61.000 --> 00:62.000\nx\n", "line 3: expected a timing line"),
        (
            b"1\n00:00:00,000 --> 00:00:01,000\nok\n\nx\n00:00:01,000 --> 00:00:02,000\nno\n",
            "line 5: expected a cue number",
        ),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\n\xff\xfe\n", "line 4: expected UTF-8"),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\nnul \x00 here\n", "line 4: expected text, found a NUL"),
        (b"WEBVTT\n" + b"x" * webvtt.MAX_BYTES, "larger than the limit of 512 KiB"),
    ],
)
def test_bad_files_say_where_and_what_was_expected(data: bytes, message: str) -> None:
    with pytest.raises(webvtt.CaptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        webvtt.parse(data)


@pytest.mark.parametrize("lang", ["en", "pt-BR", "fil", "zh-Hant-TW", "es-419"])
def test_language_tags_accepted(lang: str) -> None:
    assert webvtt.check_language(lang) == lang


@pytest.mark.parametrize("lang", ["", "EN", "english", "en_US", "../../etc", "en-", "e"])
def test_language_tags_refused(lang: str) -> None:
    with pytest.raises(webvtt.CaptionError, match="not a language tag"):
        webvtt.check_language(lang)
