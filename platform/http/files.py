"""File downloads with HTTP Range (206), ETag and If-None-Match / If-Range."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, Response
from litestar.response import Stream

from reelgate.platform.infra.errors import RangeNotSatisfiable

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def etag_for(path: Path, size: int) -> str:
    # Outputs are immutable under their id, so path and size identify the content.
    return '"' + hashlib.sha256(f"{path}:{size}".encode()).hexdigest()[:32] + '"'


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (first, last) inclusive; None means send it all.

    Several ranges are answered with the whole file, which RFC 9110 allows.
    Raises RangeNotSatisfiable for a range that lies outside the file.
    """
    match = _RANGE.match(header.replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable("The range asks for no bytes.", headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(
            f"The range starts beyond the file's {size} bytes.", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


async def _read(path: Path, start: int, end: int, sent: Callable[[int], None]) -> AsyncIterator[bytes]:
    remaining = end - start + 1
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(start)
        while remaining > 0:
            chunk = await fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
            # Counted once the server has taken the chunk: a client that leaves early is not billed
            # for the rest.
            sent(len(chunk))


def serve(
    request: Request[Any, Any, Any],
    path: Path,
    media_type: str,
    download_name: str,
    sent: Callable[[int], None] = lambda _n: None,
) -> Response[Any]:
    """The file, or the one range of it asked for; `sent` is told each chunk's size as it goes out."""
    size = path.stat().st_size
    etag = etag_for(path, size)
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'inline; filename="{download_name}"',
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(b"", status_code=304, headers=headers)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    byte_range = parse_range(wanted, size) if wanted and (not if_range or if_range == etag) else None
    if byte_range is None:
        start, end, status = 0, size - 1, 200
    else:
        (start, end), status = byte_range, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return Stream(_read(path, start, end, sent), status_code=status, media_type=media_type, headers=headers)
