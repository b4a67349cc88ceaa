"""/health/live, /health/ready and /health/version (no key needed; the router probes them)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from reelgate.platform.http.schemas import Health, Version
from reelgate.platform.infra.db import connection
from reelgate.platform.pipeline import transcode
from reelgate.platform.pipeline.probe import ToolMissing

DB_TIMEOUT_S = 1.0


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="live", summary="The process answers")
    async def live(self) -> Health:
        return Health(status="ok", checks={})

    @get(
        "/ready",
        operation_id="ready",
        summary="PostgreSQL, Valkey, ffmpeg and disk space",
        responses={503: ResponseSpec(Health, description="A part the API needs is not usable")},
    )
    async def ready(self, state: State) -> Response[Health]:
        checks: dict[str, str] = {}
        checks["postgres"] = await _check_db(state)
        checks["valkey"] = "ok" if await state.kv.ping() else "unreachable (reads fall back to PostgreSQL)"
        checks["ffmpeg"] = _tools_missing(state.settings.ffmpeg) or "ok"
        free = shutil.disk_usage(state.media.root).free
        checks["disk"] = "ok" if free >= state.settings.min_free_mb * 1024**2 else f"only {free // 1024**2} MiB free"
        essential = [checks["postgres"], checks["ffmpeg"], checks["disk"]]
        if any(c != "ok" for c in essential):
            return Response(Health(status="unavailable", checks=checks), status_code=503)
        status: Literal["ok", "degraded"] = "ok" if checks["valkey"] == "ok" else "degraded"
        return Response(Health(status=status, checks=checks), status_code=200)

    @get("/version", operation_id="version", summary="Version, color and git revision")
    async def version(self, state: State) -> Version:
        settings = state.settings
        try:
            ffmpeg = await asyncio.to_thread(transcode.ffmpeg_version, transcode.ffmpeg_path(settings.ffmpeg))
        except ToolMissing as exc:
            ffmpeg = f"missing: {exc}"
        return Version(
            version=_version(),
            color=settings.color,
            git_revision=settings.git_revision or _git_revision(str(settings.root)),
            ffmpeg=ffmpeg,
            outputs=[name for name, on in (("mp4", settings.mp4), ("hls", settings.hls)) if on],
        )


async def _check_db(state: State) -> str:
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            async with connection(state.pool) as conn:
                await conn.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # the check reports, it does not raise
        return f"unreachable ({type(exc).__name__})"


def _tools_missing(ffmpeg: str) -> str:
    missing = [] if shutil.which("ffprobe") else ["ffprobe"]
    try:
        transcode.ffmpeg_path(ffmpeg)
    except ToolMissing:
        missing.insert(0, "ffmpeg")
    return f"missing: {', '.join(missing)}" if missing else ""


def _version() -> str:
    try:
        return version("reelgate")
    except PackageNotFoundError:
        return "unknown"


@cache
def _git_revision(root: str) -> str:
    """A release build's own commit (written by the deployer), else the checkout's HEAD."""
    stamped = Path(sys.prefix) / "REVISION"
    if stamped.exists():
        return stamped.read_text().strip()
    try:
        out: Any = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
