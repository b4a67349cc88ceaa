"""The disaster-recovery drill, on a stack of its own with backups on (`backup_dir`, WAL archived at least every
10 s here): a tenant, a processed video, a backup; a canary row every second meanwhile; then PostgreSQL is
killed and its data folder and the media deleted. `reelgate restore --to latest` brings the stack back, and
the drill measures RPO (the disaster's time minus the newest canary restored) and RTO (from the restore's
start to the API healthy and a new upload ready), and checks every table's rows and every media file's
checksum against a manifest taken before the disaster. Then a restore to a point in time shows the canaries
as they were at that time, and a restore to the moment before a destructive migration (a table dropped, a
column dropped) shows the data as it was. The figures are printed and written to `backup-drill.json` in the
test's folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from reelgate.platform.stack import process_info
from reelgate.platform.stack.paths import pg_data_dir
from tests.integration.stack import Stack, running_stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
TABLES = ("tenants", "api_keys", "videos", "renditions", "audit_events")


def manifest(stack: Stack) -> dict[str, Any]:
    """Every row of the tables that matter (as text) and every media file's SHA-256."""
    found: dict[str, Any] = {}
    with psycopg.connect(stack.settings.db_url) as conn:
        for table in TABLES:
            rows = conn.execute(f"SELECT t::text FROM {table} t").fetchall()  # noqa: S608 (our own names)
            found[table] = sorted(r[0] for r in rows)
    found["media"] = {
        str(p.relative_to(stack.media)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(stack.media.rglob("*"))
        if p.is_file()
    }
    return found


class Canary:
    """A row every second into `drill_canary`, until stopped (a failed insert is the disaster: ignored)."""

    def __init__(self, url: str) -> None:
        self.url, self.stop = url, threading.Event()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS drill_canary (at timestamptz NOT NULL DEFAULT clock_timestamp())")
        self.thread = threading.Thread(target=self._write, daemon=True)

    def _write(self) -> None:
        while not self.stop.wait(1.0):
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=1) as conn:
                    conn.execute("INSERT INTO drill_canary DEFAULT VALUES")
            except psycopg.Error:
                pass

    def __enter__(self) -> Canary:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def canaries(stack: Stack) -> list[datetime]:
    with psycopg.connect(stack.settings.db_url) as conn:
        return [r[0] for r in conn.execute("SELECT at FROM drill_canary ORDER BY at").fetchall()]


def test_the_drill_restores_a_lost_database_and_media_within_the_rpo_and_rto(tmp_path: Path) -> None:
    backups = Path(os.environ.get("TMPDIR", "/tmp")) / f"reelgate-backups-{os.getpid()}-{time.time_ns()}"
    with running_stack(REELGATE_BACKUP_DIR=str(backups), REELGATE_ARCHIVE_TIMEOUT_S="10") as stack:
        key = stack.tenant("drill")
        with stack.client(key) as api:
            made = upload(api, make_clip(tmp_path / "before.mp4"))
            assert made.status_code == 202, made.text
            assert wait_final(api, made.json())["status"] == "ready"
        backed = stack.cli("backup", "run")
        assert "database full backup" in backed.stdout, backed.stdout

        def gauges() -> dict[str, float] | None:
            text = httpx.get(f"{stack.router}/metrics", timeout=10).text
            found = {
                m.group(1): float(m.group(2)) for m in re.finditer(r"^(reelgate_(?:backup|wal)_\w+) (\S+)$", text, re.M)
            }
            wanted = ("reelgate_backup_last_success_timestamp_seconds", "reelgate_wal_last_archived_timestamp_seconds")
            return found if all(found.get(name, 0) > 0 for name in wanted) else None

        seen = wait_for(gauges, 30, "the backup gauges on /metrics")
        assert (
            seen["reelgate_wal_archive_failing"] == 0
            and time.time() - seen["reelgate_backup_last_success_timestamp_seconds"] < 120
        )
        before = manifest(stack)
        assert before["videos"] and before["renditions"] and before["media"]

        with Canary(stack.settings.db_url):
            time.sleep(25)
            disaster = datetime.now(UTC)
            os.kill(int(str(process_info(stack.settings)["postgres"]["pid"])), signal.SIGKILL)
        for lost in (pg_data_dir(stack.settings), stack.media):
            shutil.rmtree(lost)

        started = time.monotonic()
        restored = stack.cli("restore", "--to", "latest", "--yes")
        assert "restored to latest" in restored.stdout, restored.stdout + restored.stderr
        with stack.client(key) as api:
            again = upload(api, make_clip(tmp_path / "after.mp4"))
            assert again.status_code == 202, again.text
            assert wait_final(api, again.json())["status"] == "ready"
        rto = time.monotonic() - started

        rows = canaries(stack)
        rpo = (disaster - rows[-1]).total_seconds()
        after = manifest(stack)
        for table in TABLES:
            missing = set(before[table]) - set(after[table])
            assert not missing, f"{table}: {len(missing)} rows lost: {sorted(missing)[:3]}"
        assert {k: v for k, v in after["media"].items() if k in before["media"]} == before["media"]
        assert "database: verified" in stack.cli("backup", "verify").stdout

        # a point in time: the canaries as they were 10 s before the newest one restored
        when = rows[-1] - timedelta(seconds=10)
        expected = [at for at in rows if at <= when]
        stack.cli("restore", "--to", when.isoformat(), "--yes")
        assert canaries(stack) == expected

        # a bad release's destructive migration, undone by a restore to the moment before it
        good = manifest(stack)
        time.sleep(1)
        before_bad = datetime.now(UTC)
        time.sleep(1)
        with psycopg.connect(stack.settings.db_url, autocommit=True) as conn:
            conn.execute("DROP TABLE renditions CASCADE")
            conn.execute("ALTER TABLE videos DROP COLUMN title")
        time.sleep(12)  # archive_timeout_s: the WAL up to the migration reaches the archive
        stack.cli("restore", "--to", before_bad.isoformat(), "--yes")
        assert manifest(stack) == good

    shutil.rmtree(backups, ignore_errors=True)
    figures = {"rpo_s": round(rpo, 2), "rto_s": round(rto, 2), "canaries": len(rows), "archive_timeout_s": 10,
               "media_files": len(before["media"])}  # fmt: skip
    (tmp_path / "backup-drill.json").write_text(json.dumps(figures))
    print(f"drill: {figures}")
    assert rpo <= 60, figures
    assert rto <= 300, figures
