"""The periodic tasks add a finished job to the queue every few seconds; `prune_maintenance_jobs` keeps an
hour of them, and never touches a transcode job."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from reelgate.platform.pipeline import jobs
from tests.integration.stack import running_stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
FINISHED = "SELECT id, queue_name FROM procrastinate_jobs WHERE status = 'succeeded'"


async def test_finished_maintenance_jobs_older_than_an_hour_are_pruned(tmp_path: Path) -> None:
    with running_stack() as stack:
        with stack.client(stack.tenant("pruned", "--rate-limit", "0")) as api:
            assert wait_final(api, upload(api, make_clip(tmp_path / "a.mp4")).json())["status"] == "ready"
        url = stack.settings.db_url

        def finished() -> list[tuple[int, str]]:
            with psycopg.connect(url) as conn:
                found = conn.execute(FINISHED).fetchall()
            return found if sum(q == jobs.MAINTENANCE_QUEUE for _, q in found) >= 3 else []

        old = wait_for(finished, 60, "three finished maintenance jobs")
        with psycopg.connect(url, autocommit=True) as conn:  # they finished two hours ago
            conn.execute(
                "UPDATE procrastinate_events SET at = at - interval '2 hours' WHERE job_id = ANY(%s)",
                ([i for i, _ in old],),
            )
        async with AsyncConnectionPool(url, open=False) as pool, jobs.app.open_async(pool):
            await jobs.prune_maintenance_jobs(0)
        with psycopg.connect(url) as conn:
            left = {i: q for i, q in conn.execute(FINISHED).fetchall()}
        assert all(i not in left for i, q in old if q == jobs.MAINTENANCE_QUEUE)
        assert all(i in left for i, q in old if q != jobs.MAINTENANCE_QUEUE)  # the transcode job stays
        assert any(q != jobs.MAINTENANCE_QUEUE for q in left.values())
