"""Caption files: WebVTT, or SubRip converted to WebVTT, checked line by line.

A bad file is refused with its line number and what was expected there, so a
user can fix it. webvtt-py (0.6) was tried first: it accepts a cue that ends
before it starts and silently drops a cue whose timing line is malformed, so it
cannot say what is wrong.
"""

from __future__ import annotations

import re

import msgspec

MAX_BYTES = 512 * 1024
_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)[.,](\d{3})"
_TIMING = re.compile(rf"^{_TIME}[ \t]+-->[ \t]+{_TIME}(?:[ \t]+(.*))?$")
_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_LOOKS_TIMED = re.compile(r"\d:\d\d")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


class CaptionError(ValueError):
    """A caption file (or its language) that cannot be used; the message says where and why."""


class Cue(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    text: str
    settings: str = ""


def check_language(lang: str) -> str:
    if not _LANG.match(lang):
        raise CaptionError(f"The language {lang[:40]!r} is not a language tag such as 'en', 'pt-BR' or 'fil'.")
    return lang


def _ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _stamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _blocks(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines from `start`, each with its first line's number (1-based)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line)
        else:
            current = []
    return blocks


def _cue(number: int, block: list[str], subrip: bool) -> Cue | None:
    """One block as a cue: an optional identifier (a SubRip counter), the timing line, then the text."""
    if not subrip and block[0].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
        return None
    timing_at = 1 if "-->" not in block[0] and len(block) > 1 else 0
    if subrip and timing_at == 1 and not block[0].strip().isdigit():
        raise CaptionError(f"line {number}: expected a cue number or a timing line, found {block[0][:60]!r}")
    match = _TIMING.match(block[timing_at].strip())
    if not match:
        # A first line that looks like a time was meant as the timing line, not as an identifier.
        blamed = 0 if timing_at == 1 and _LOOKS_TIMED.search(block[0]) else timing_at
        raise CaptionError(
            f"line {number + blamed}: expected a timing line such as "
            f"'00:00:01.000 --> 00:00:02.500', found {block[blamed][:60]!r}"
        )
    start, end = _ms(*match.group(1, 2, 3, 4)), _ms(*match.group(5, 6, 7, 8))
    if end <= start:
        raise CaptionError(
            f"line {number + timing_at}: the cue ends ({_stamp(end)}) before it starts ({_stamp(start)})"
        )
    text_lines = block[timing_at + 1 :]
    for offset, text_line in enumerate(text_lines, start=number + timing_at + 1):
        if "-->" in text_line:
            raise CaptionError(
                f"line {offset}: expected cue text, found a second timing line (is a blank line missing?)"
            )
    text = "\n".join(text_lines)
    return Cue(start, end, text, "" if subrip else (match.group(9) or ""))


def parse(data: bytes) -> list[Cue]:
    """The cues of a WebVTT or SubRip file, in order; CaptionError says what is wrong and where."""
    if len(data) > MAX_BYTES:
        raise CaptionError(f"The caption file is larger than the limit of {MAX_BYTES // 1024} KiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaptionError(f"line {line}: expected UTF-8 text") from None
    if "\x00" in text:
        raise CaptionError(f"line {text[: text.index(chr(0))].count(chr(10)) + 1}: expected text, found a NUL byte")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise CaptionError("The caption file is empty.")
    if _HEADER.match(lines[first]):
        subrip, body = False, first + 1
        # The header block runs to the first blank line.
        while body < len(lines) and lines[body].strip():
            body += 1
    elif lines[first].strip().isdigit() or _TIMING.match(lines[first].strip()):
        subrip, body = True, first
    else:
        raise CaptionError(
            f"line {first + 1}: expected 'WEBVTT' (a WebVTT file) or a cue number "
            f"(a SubRip file), found {lines[first][:60]!r}"
        )
    cues = [cue for number, block in _blocks(lines, body) if (cue := _cue(number, block, subrip))]
    if not cues:
        raise CaptionError("The caption file has no cues.")
    return cues


def to_webvtt(cues: list[Cue]) -> str:
    """A WebVTT file that every browser's <track> reads, whatever the cues came from."""
    out = ["WEBVTT", ""]
    for cue in cues:
        timing = f"{_stamp(cue.start_ms)} --> {_stamp(cue.end_ms)}"
        out += [f"{timing} {cue.settings}".rstrip(), cue.text, ""]
    return "\n".join(out)
