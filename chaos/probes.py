"""Probes of the steady state: a color answers its readiness check, a scenario file passes against
it, its queue's depth, the jobs accepted before a fault all finish, and how HAProxy sees it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from reelgate.chaos.processes import kill_record
from reelgate.chaos.stack import color_of, router_server, settings_for
from reelgate.contract.stack import queue_for
from reelgate.platform.repo import queue_depths

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


def router_marks(color: str, state: str, within_s: float = 30, configuration: dict[str, Any] | None = None) -> float:
    """Seconds from the kill (`processes.kill_api`'s record) until HAProxy's health check shows `color` as
    `state`; raises if it does not within `within_s`. Only HAProxy checks health; an nginx stack is refused.

    DOWN means HAProxy saw the killed API fail its check: a failed check counted since the kill (`chkfail`),
    a server marked DOWN since (`chkdown`), or DOWN now. HAProxy marks a server DOWN after two failed checks
    0.5 s apart, and an API that restarts within that window is never marked DOWN though the router saw it
    go: polling the status alone missed that, and the gate blocked a good release. UP means UP again with
    no failed check pending, and the color answering its readiness probe."""
    settings = settings_for(configuration)
    if settings.router != "haproxy":
        raise RuntimeError(f"the stack's router is {settings.router}, which does not check its servers' health")
    color = color_of(color)
    record_path = kill_record(settings, f"api-{color}")
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    since, before = float(record.get("at") or time.time()), record.get("router_before") or {}
    deadline = time.monotonic() + within_s
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        seen = router_server(settings, color)
        status = seen.get("status", "")
        if state == "DOWN":
            counted = any(int(seen.get(k) or 0) > int(before.get(k) or 0) for k in ("chkfail", "chkdown") if before)
            if status.startswith("DOWN") or counted:
                took = round(time.time() - since, 2)
                logger.info("HAProxy saw %s fail its check %.2f s after the kill (status %s)", color, took, status)
                return took
        elif status == state and ready(color, configuration):
            took = round(time.time() - since, 2)
            marked = int(seen.get("chkdown") or 0) > int(before.get("chkdown") or 0)
            how = "after marking it DOWN" if marked else "never marked DOWN: back before a second failed check"
            logger.info("HAProxy has %s UP %.2f s after the kill, %s", color, took, how if before else "?")
            return took
        time.sleep(0.1)
    raise RuntimeError(
        f"HAProxy did not mark {color} {state} within {within_s:g} s (last seen: {seen.get('status')}, "
        f"{seen.get('chkfail')} failed checks, {before.get('chkfail', '?')} before the kill)"
    )
