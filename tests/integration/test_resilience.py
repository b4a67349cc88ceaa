"""The pipeline survives a killed worker and a stopped Valkey, with nothing lost."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from reelgate.platform.stack import process_info, start_part, stop_part
from tests.integration.stack import Stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def worker_pid(stack: Stack) -> int | None:
    info = process_info(stack.settings)["worker-blue"]
    return int(str(info["pid"])) if info["statename"] == "RUNNING" else None


@pytest.mark.timeout(240)
def test_worker_killed_at_first_progress_event_still_ends_ready(
    stack: Stack, api: httpx.Client, media_dir: Path
) -> None:
    source = make_clip(media_dir / "long.mp4", size="1280x720", seconds=8, vcodec="mpeg4")
    video = upload(api, source).json()
    killed: dict[str, object] = {}
    with api.stream("GET", video["events_url"], timeout=60) as events:
        for line in events.iter_lines():
            if line.startswith("data:") and json.loads(line[5:])["status"] == "processing":
                pid = worker_pid(stack)
                assert pid is not None
                ffmpegs = [c.pid for c in psutil.Process(pid).children(recursive=True) if c.name() == "ffmpeg"]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, ffmpegs=ffmpegs)
                break
    assert killed, "no processing event arrived"
    # ffmpeg dies with its worker (PR_SET_PDEATHSIG): no orphan keeps encoding.
    wait_for(lambda: not any(psutil.pid_exists(p) for p in killed["ffmpegs"]), 10, "ffmpeg to die")  # type: ignore[attr-defined]
    # supervisord restarts the worker; the stalled job is retried with no manual step.
    wait_for(lambda: worker_pid(stack) not in (None, killed["pid"]), 20, "the worker to be restarted")
    final = wait_final(api, video, timeout=60)
    assert final["status"] == "ready", final["failure_reason"]
    assert [r["name"] for r in final["renditions"]] == ["720p", "480p", "360p"]
    work = stack.media / "work" / video["id"]
    assert not work.exists(), "attempt folders are cleaned up"


def test_valkey_down_reads_still_served_and_nothing_lost(stack: Stack, api: httpx.Client, clip: Path) -> None:
    before = wait_final(api, upload(api, clip).json())
    stop_part(stack.settings, "valkey")
    try:
        assert api.get(before["url"]).json()["status"] == "ready"
        assert api.get("/v1/videos").status_code == 200
        assert api.get(before["renditions"][0]["url"]).status_code == 200
        ready = api.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        # An upload while Valkey is down is accepted and processed; progress falls back to PostgreSQL.
        during = upload(api, clip, title="during the outage")
        assert during.status_code == 202, during.text
        with api.stream("GET", during.json()["events_url"], timeout=60) as events:
            body = "".join(events.iter_text())
        assert '"status":"ready"' in body
        assert wait_final(api, during.json())["status"] == "ready"
    finally:
        start_part(stack.settings, "valkey")
    wait_for(lambda: api.get("/health/ready").json()["status"] == "ok", 10, "Valkey to be back")


def test_after_a_postgres_restart_no_request_gets_a_dead_connection(stack: Stack, api: httpx.Client) -> None:
    """A request whose pooled connection PostgreSQL dropped gets a live one instead (found by the
    postgres-restart chaos experiment: the first requests after a restart got dead connections)."""

    def library(_: int) -> int:
        return api.get("/v1/videos").status_code

    with ThreadPoolExecutor(10) as pool:
        # Ten at a time: each API process holds several connections, all opened before the restart.
        assert list(pool.map(library, range(40))) == [200] * 40
        stop_part(stack.settings, "postgres")
        start_part(stack.settings, "postgres")
        # Wait on PostgreSQL itself, not on the API's readiness probe, which would use up the dead connections.
        wait_for(lambda: _postgres_answers(stack), 30, "PostgreSQL to accept connections")
        assert list(pool.map(library, range(40))) == [200] * 40


def _postgres_answers(stack: Stack) -> bool:
    try:
        with psycopg.connect(stack.settings.db_url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False
