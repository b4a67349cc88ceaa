"""The disaster-recovery drill (tests/integration/drill.py), on a stack of its own with backups on
(`backup_dir`, WAL archived at least every 10 s here): under load, PostgreSQL is killed and its data folder
and the media deleted; `reelgate restore --to latest` brings everything back within the RPO and RTO, with
nothing in the manifest lost, the job in flight done, and no reference to a missing file. Then a restore to
a point in time shows the canaries as they were, and a restore to the moment before a destructive migration
(a table dropped, a column dropped) shows the data as it was. The figures are printed and written to
`backup-drill.json` in the test's folder (`bench backup` runs the same drill for longer)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from reelgate.platform.backup.media_check import LOST
from tests.integration import drill
from tests.integration.stack import Stack, free_port_base, running_stack
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def canaries(url: str) -> list[datetime]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT at FROM drill_canary ORDER BY at").fetchall()]


def on_a_new_machine(stack: Stack) -> Stack:
    """`reelgate restore --to latest` in another home (other paths, other ports) that has only the backup
    folder's setting and a copy of the key, as on a new machine."""
    home = Path(tempfile.mkdtemp(prefix="reelgate-new-machine-"))
    home.chmod(0o755)
    env = {**stack.env, "REELGATE_HOME": str(home), "REELGATE_PORT_BASE": str(free_port_base())}
    (home / "var" / "secrets").mkdir(parents=True)
    shutil.copy(stack.settings.backup_key, home / "var" / "secrets" / "backup_key")
    other = Stack(home, env)
    other.cli("restore", "--to", "latest", "--yes")
    return other


def test_the_drill_restores_a_lost_database_and_media_within_the_rpo_and_rto(tmp_path: Path) -> None:
    backups = Path(os.environ.get("TMPDIR", "/tmp")) / f"reelgate-backups-{os.getpid()}-{time.time_ns()}"
    settings = {
        "REELGATE_BACKUP_DIR": str(backups),
        "REELGATE_ARCHIVE_TIMEOUT_S": "10",
        "REELGATE_MAX_UPLOAD_BYTES": "300000000",
    }
    with running_stack(**settings) as stack:
        figures = drill.run(stack, tmp_path, load_s=30)
        key = figures.pop("key")
        (tmp_path / "backup-drill.json").write_text(json.dumps(figures, default=str))
        print(f"drill: {figures}")
        assert not figures["lost"], figures["lost"]
        assert not figures["missing_files"], figures["missing_files"]
        assert figures["in_flight"] == {"at_disaster": "processing", "after": "ready"}, figures
        assert set(figures["videos_after"]) <= {"ready", LOST}, figures["videos_after"]
        assert figures["traffic"]["reads"]["ok"] > 50 and figures["traffic"]["releases"]["ok"] > 3, figures
        assert figures["rpo_database_s"] <= 60 and figures["rpo_media_s"] <= 60, figures
        assert figures["rto_s"] <= 300, figures
        assert "database: verified" in stack.cli("backup", "verify").stdout

        # a video uploaded after the newest media snapshot, then deleted: a restore to before the deletion
        # finds its files in the trash (the grace period), not in any snapshot
        url = stack.settings.db_url
        with psycopg.connect(url) as conn:
            late = str(conn.execute("SELECT id FROM videos WHERE filename = 'after.mp4'").fetchone()[0])  # type: ignore[index]
        time.sleep(1)
        when = datetime.now(UTC)
        with stack.client(key) as api:
            assert api.delete(f"/v1/videos/{late}").status_code == 204
        assert not (stack.media / "sources" / late).exists()
        drill.archived(stack)  # the deletion too: the restore's target lies within the archive
        said = stack.cli("restore", "--to", when.isoformat(), "--yes").stdout
        assert int(said.split(" put back from the trash")[0].rsplit(" ", 1)[-1]) >= 2, said  # source, output
        assert not drill.missing_files(stack)
        with stack.client(key) as api:
            assert api.get(f"/v1/videos/{late}").json()["status"] == "ready"
            assert api.get(f"/v1/videos/{late}/thumbnail").status_code == 200

        # a point in time: the canaries as they were 10 s before the newest one restored
        rows = canaries(url)
        when = rows[-1] - timedelta(seconds=10)
        expected = [at for at in rows if at <= when]
        stack.cli("restore", "--to", when.isoformat(), "--yes")
        assert canaries(url) == expected
        assert not drill.missing_files(stack)

        # a bad release's destructive migration, undone by a restore to the moment before it
        good = drill.manifest(stack)
        time.sleep(1)
        before_bad = datetime.now(UTC)
        time.sleep(1)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE renditions CASCADE")
            conn.execute("ALTER TABLE videos DROP COLUMN title")
        drill.archived(stack)  # the WAL up to the migration reaches the archive
        stack.cli("restore", "--to", before_bad.isoformat(), "--yes")
        assert drill.manifest(stack) == good

        # last (it archives its own timeline into the same repository, as a replacement machine would): a new
        # machine, from the backups alone. The video uploaded after the drill's restore was never in a media
        # snapshot, so it ends `failed` as lost there; the others are all ready; nothing refers to a missing file
        drill.archived(stack)
        other = on_a_new_machine(stack)
        try:
            # renditions made after the newest media snapshot (the in-flight job's) are made again there
            wait_for(lambda: drill.unfinished(other) == 0, 180, "the videos queued again to be processed")
            here, there = drill.manifest(stack), drill.manifest(other)
            lost_with_it = ("ready", "media", "renditions")  # the lost video's, and only those
            assert {k: v for k, v in here.items() if k not in lost_with_it} == {
                k: v for k, v in there.items() if k not in lost_with_it
            }
            with psycopg.connect(other.settings.db_url) as conn:
                lost = conn.execute("SELECT id::text FROM videos WHERE failure_reason = %s", (LOST,)).fetchall()
            assert lost == ([(late,)] if any(late in row for row in here["videos"]) else [])
            ready = [{row.split(",")[0].strip("(") for row in side["ready"]} for side in (here, there)]
            assert ready[1] == ready[0] - {late}
            assert not drill.missing_files(other)
        finally:
            other.cli("stack", "down", check=False)
            shutil.rmtree(other.home, ignore_errors=True)

    shutil.rmtree(backups, ignore_errors=True)
