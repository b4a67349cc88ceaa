"""Probes of the steady state: a color answers its readiness check, a scenario file passes against
it, its queue's depth, the jobs accepted before a fault all finish, and how HAProxy sees it."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from reelgate.chaos.stack import color_of, settings_for
from reelgate.platform.repo import queue_depths, queue_for

logger = logging.getLogger("chaostoolkit")  # Chaos Toolkit's own log, so failures land in chaos.log
SOURCE_ENV = "REELGATE_CHAOS_SOURCE"
"""The folder scenario paths are relative to (the gate sets it to the candidate's source)."""


def ready(color: str, configuration: dict[str, Any] | None = None) -> bool:
    """Whether `color`'s API answers `/health/ready` with 200."""
    settings = settings_for(configuration)
    try:
        url = f"http://127.0.0.1:{settings.port(color_of(color))}/health/ready"
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def unfinished_videos(configuration: dict[str, Any] | None = None) -> int:
    """Videos still queued or processing (every tenant's)."""
    settings = settings_for(configuration)
    with psycopg.connect(settings.db_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM videos WHERE status IN ('queued', 'processing')").fetchone()
    return int(row[0]) if row else 0


def queue_depth(color: str, configuration: dict[str, Any] | None = None) -> int:
    """Transcode jobs waiting or running on `color`'s queue (use it with a `range` tolerance)."""
    settings, queue = settings_for(configuration), queue_for(color_of(color))

    async def depth() -> int:
        async with await psycopg.AsyncConnection.connect(settings.db_url, connect_timeout=5) as conn:
            return sum(n for (name, _status), n in (await queue_depths(conn)).items() if name == queue)

    return asyncio.run(depth())


def all_jobs_finish(within_s: float = 60, configuration: dict[str, Any] | None = None) -> bool:
    """Whether every accepted video reaches `ready` or `failed` within `within_s` (0 stuck: none lost)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if unfinished_videos(configuration) == 0:
            return True
        time.sleep(0.5)
    return False


def scenario_passes(
    color: str, file: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """Whether the scenario `file` passes against `color`'s API, as the tenant whose key is the
    secret `api_key` (Chaos Toolkit keeps secrets out of the journal). A failing step is logged."""
    from reelgate.gates.scenario.format import ScenarioError, load_scenario
    from reelgate.gates.scenario.run import run_loaded

    key = str((secrets or {}).get("api_key") or "")
    if not key:
        raise ValueError("scenario_passes needs the secret api_key (the gate sets REELGATE_CHAOS_API_KEY)")
    path = Path(file)
    if not path.is_absolute():
        path = Path(os.environ.get(SOURCE_ENV) or os.getcwd()) / path
    try:
        loaded = load_scenario(path)
    except (OSError, ScenarioError) as exc:
        raise ValueError(f"cannot load the scenario {path}: {exc}") from None
    target = f"http://127.0.0.1:{settings_for(configuration).port(color_of(color))}"
    result = asyncio.run(run_loaded(loaded, target, env={**os.environ, "API_KEY": key}))
    for step in result.failed:
        logger.warning("scenario %s, step %r: %s", path.name, step.name, step.reason)
    return result.passed


def _router_status(settings: Any, color: str) -> str:
    """`color`'s status in HAProxy's `show stat` (UP, DOWN, or a transition such as `DOWN 1/2`)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(2)
        conn.connect(str(settings.run_dir / "haproxy.sock"))
        conn.sendall(b"show stat\n")
        answer = b"".join(iter(lambda: conn.recv(65536), b"")).decode()
    rows = csv.reader(line for line in answer.splitlines() if line and not line.startswith("#"))
    header = answer.splitlines()[0].lstrip("# ").split(",")
    for row in rows:
        fields = dict(zip(header, row, strict=False))
        if fields.get("pxname") == "be_app" and fields.get("svname") == color:
            return fields.get("status", "")
    raise RuntimeError(f"HAProxy has no server {color} in be_app")


def router_marks(color: str, state: str, within_s: float = 30, configuration: dict[str, Any] | None = None) -> float:
    """Seconds until HAProxy's health check shows `color` as `state` (UP or DOWN); raises if it does not
    within `within_s`. Only HAProxy checks health; an nginx stack is refused."""
    settings = settings_for(configuration)
    if settings.router != "haproxy":
        raise RuntimeError(f"the stack's router is {settings.router}, which does not check its servers' health")
    started = time.monotonic()
    seen = ""
    while time.monotonic() - started < within_s:
        seen = _router_status(settings, color_of(color))
        if seen == state:
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    raise RuntimeError(f"HAProxy did not mark {color} {state} within {within_s:g} s (last seen: {seen})")
