"""Helpers the integration tests share: upload a clip through the API, wait for its processing to end."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.waiting import wait_for


def upload(api: httpx.Client, path: Path, name: str | None = None, **data: str) -> httpx.Response:
    with path.open("rb") as fh:
        return api.post("/v1/videos", files={"file": (name or path.name, fh, "video/mp4")}, data=data)


def wait_final(api: httpx.Client, video: dict, timeout: float = 120) -> dict:
    """The deadline allows for a queue: one worker, and earlier tests may have left it jobs."""

    def final() -> dict | None:
        current = api.get(video["url"]).json()
        return current if current["status"] in ("ready", "failed") else None

    return wait_for(final, timeout, f"video {video['id']} to finish")
