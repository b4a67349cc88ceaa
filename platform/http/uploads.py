"""Receive a multipart upload as a stream, straight into the media store.

The body is never held whole in memory: each chunk from `request.stream()`
goes through a streaming multipart parser into `tmp/<uuid>.part`, hashed as
it goes and counted against the limit. The part file is removed on any error.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import msgspec
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.parser import ParseFailedException, UnexpectedPartException
from streaming_form_data.targets import BaseTarget, ValueTarget

from reelgate.platform.infra.errors import ApplicationError, InvalidUpload, UploadTooLarge

FILE_FIELD = "file"
TITLE_FIELD = "title"
CSRF_FIELD = "_csrf_token"  # the pages' form field; the API never takes it
MAX_TITLE_BYTES = 500


class UnsupportedMediaType(ApplicationError):
    status_code = 415


class Received(msgspec.Struct):
    path: Path
    bytes: int
    sha256: str
    filename: str | None
    content_type: str | None
    title: str
    csrf_token: str = ""


class _HashingFileTarget(BaseTarget):
    """Writes the file part to disk, hashing and counting as it goes."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__()
        self.path = path
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()
        self.seen = False
        self._fh: IO[bytes] | None = None

    def on_start(self) -> None:
        self.seen = True
        self._fh = self.path.open("wb")

    def on_data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise UploadTooLarge(f"The file is larger than the limit of {self.limit} bytes.")
        self.digest.update(chunk)
        assert self._fh is not None
        self._fh.write(chunk)

    def on_finish(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def receive(
    stream: AsyncIterator[bytes], content_type: str, part: Path, limit: int, csrf_field: bool = False
) -> Received:
    """Parse the multipart body into `part`; raise an ApplicationError saying what was wrong.

    With `csrf_field`, a `_csrf_token` field is accepted too (a page's form without JavaScript).
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            f"Send the video as multipart/form-data with a '{FILE_FIELD}' field, "
            f"not {content_type or 'no content type'}."
        )
    target = _HashingFileTarget(part, limit)
    title = ValueTarget()
    csrf = ValueTarget()
    try:
        parser = StreamingFormDataParser(headers={"Content-Type": content_type}, strict=True)
        parser.register(FILE_FIELD, target)
        parser.register(TITLE_FIELD, title)
        if csrf_field:
            parser.register(CSRF_FIELD, csrf)
        async for chunk in stream:
            parser.data_received(chunk)
            if len(title.value) > MAX_TITLE_BYTES:
                raise ApplicationError(f"The title is longer than {MAX_TITLE_BYTES} bytes.")
            if len(csrf.value) > MAX_TITLE_BYTES:
                raise ApplicationError("The form's security token is not valid; reload the page and try again.")
    except UnexpectedPartException as exc:
        _discard(target, part)
        raise ApplicationError(
            f"Unknown form field '{exc.part_name}'; expected '{FILE_FIELD}' and optionally '{TITLE_FIELD}'."
        ) from None
    except ParseFailedException:
        _discard(target, part)
        raise ApplicationError("The multipart body could not be parsed.") from None
    except BaseException:
        _discard(target, part)
        raise
    target.close()
    if not target.seen:
        _discard(target, part)
        raise ApplicationError(f"The form has no '{FILE_FIELD}' field with the video.")
    if target.size == 0:
        _discard(target, part)
        raise InvalidUpload("The uploaded file is empty.")
    try:
        text_title = title.value.decode("utf-8").strip()
    except UnicodeDecodeError:
        _discard(target, part)
        raise ApplicationError("The title is not valid UTF-8.") from None
    return Received(
        path=part,
        bytes=target.size,
        sha256=target.digest.hexdigest(),
        filename=target.multipart_filename,
        content_type=target.multipart_content_type,
        title=text_title,
        csrf_token=csrf.value.decode("ascii", "replace"),
    )


def _discard(target: _HashingFileTarget, part: Path) -> None:
    target.close()
    part.unlink(missing_ok=True)
