"""A full media store is a state that passes, not a bug: an upload into it is a 507 problem with
Retry-After, its part file is gone, and the error is recognised through the multipart parser."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from reelgate.chaos.disk import mount_volume, unmount_volume
from reelgate.platform.http.uploads import receive
from reelgate.platform.infra.errors import internal_error_handler
from reelgate.platform.pipeline.media import storage_full


def test_a_full_disk_anywhere_in_the_chain_is_a_507_with_retry_after() -> None:
    @get("/boom")
    async def boom() -> None:
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            raise RuntimeError("writing the part file") from exc

    with TestClient(Litestar([boom], exception_handlers={Exception: internal_error_handler})) as client:
        answer = client.get("/boom")
    assert answer.status_code == 507 and answer.headers["retry-after"] == "60"
    assert answer.json()["type"] == "/problems/storage-full" and "nothing was stored" in answer.json()["detail"]
    assert not storage_full(OSError(13, "Permission denied"))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a loop volume needs root")
async def test_an_upload_into_a_full_volume_raises_enospc_and_keeps_nothing(tmp_path: Path) -> None:
    media = tmp_path / "var" / "media"
    mount_volume(media, tmp_path / "media.img", 64)
    try:
        filler = media / "filler"
        with filler.open("wb") as fh, pytest.raises(OSError):
            while True:
                fh.write(b"\0" * 1024**2)
                fh.flush()
                os.fsync(fh.fileno())
        boundary = "rgboundary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            f"Content-Type: video/mp4\r\n\r\n".encode()
            + b"x" * 4 * 1024**2
            + f"\r\n--{boundary}--\r\n".encode()
        )

        async def stream() -> AsyncIterator[bytes]:
            for at in range(0, len(body), 64 * 1024):
                yield body[at : at + 64 * 1024]

        part = media / f"{uuid.uuid4()}.part"
        with pytest.raises(Exception) as raised:
            await receive(stream(), f"multipart/form-data; boundary={boundary}", part, 10 * 1024**2)
        assert storage_full(raised.value), repr(raised.value)
        assert not part.exists()
    finally:
        unmount_volume(media)
