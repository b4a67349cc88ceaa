"""Two workers on one queue, and one of them stalls mid-job (frozen with SIGSTOP, with its ffmpeg, longer than
`stalled_after_s`): its heartbeat goes stale, the stalled-job check puts the job back, the other worker runs
it to `ready` and removes the older attempt's folder. Then the stalled worker comes back: its ffmpeg fails,
and its writes (progress, `failed`) are fenced by its attempt number, so they cannot overwrite the retry's
outcome. The video ends `ready` once, with one output."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.integration.drill import transcoding
from tests.integration.stack import REELGATE, running_stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_worker_that_stalled_cannot_overwrite_the_retry_of_its_job(tmp_path: Path) -> None:
    with running_stack(REELGATE_MAX_UPLOAD_BYTES=str(300 * 1024**2)) as stack:
        key = stack.tenant("fenced", "--rate-limit", "0")
        log = (tmp_path / "second-worker.log").open("w")
        second = subprocess.Popen(  # noqa: S603 (our own CLI)
            [REELGATE, "worker", "--color", "blue"], env=stack.env, cwd=stack.home, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            with stack.client(key) as api:
                video = upload(api, make_clip(tmp_path / "long.mp4", size="1280x720", seconds=30)).json()
                ffmpeg = wait_for(lambda: transcoding(video["id"]), 120, "the job's ffmpeg", interval=0.05)
                worker = ffmpeg[0].parent()
                assert worker is not None
                stalled = [worker, *ffmpeg]
                for proc in stalled:
                    proc.send_signal(signal.SIGSTOP)
                stalled_at = time.monotonic()
                done = wait_final(api, video, timeout=180)  # retried by the other worker
                retried_in = time.monotonic() - stalled_at
                print(f"the stalled job was done elsewhere {retried_in:.1f} s after the freeze")
                assert done["status"] == "ready", done
                with psycopg.connect(stack.settings.db_url) as conn:
                    before = conn.execute(
                        "SELECT attempts, output_id FROM videos WHERE id = %s", (video["id"],)
                    ).fetchone()
                assert before is not None and before[0] == 2, before

                # the retry removed the older attempt's folder too (it can never finish): when the stalled one
                # resumes, its ffmpeg fails, and that failure must not overwrite the retry's success either
                work = stack.media / "work" / video["id"]
                assert not work.exists()
                for proc in reversed(stalled):
                    proc.send_signal(signal.SIGCONT)
                psutil.wait_procs(ffmpeg, timeout=120)  # the stalled attempt's ffmpeg ends (it fails)
                time.sleep(3)  # its worker records the failure (fenced: a no-op)

                with psycopg.connect(stack.settings.db_url) as conn:
                    after = conn.execute(
                        "SELECT attempts, output_id, status, progress FROM videos WHERE id = %s", (video["id"],)
                    ).fetchone()
                    outputs = conn.execute("SELECT dir FROM outputs").fetchall()
                assert after == (*before, "ready", 1.0), after
                assert len(outputs) == 1 and [p.name for p in (stack.media / "outputs").iterdir()] == [
                    Path(outputs[0][0]).name
                ]
                assert api.get(f"{video['url']}/thumbnail").status_code == 200
                assert retried_in < 60, f"the stalled job took {retried_in:.1f} s to be done elsewhere"
        finally:
            second.terminate()
            second.wait(timeout=30)
            log.close()
