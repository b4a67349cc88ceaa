"""The disaster-recovery drill (issue: rehearsed disaster recovery), shared by its test and `bench backup`.

On a stack with backups on: a tenant with processed videos and a caption, a full backup; then, while
uploads, processing, releases and reads run, a canary row every second and a canary file every two seconds
are written, and the media are snapshotted every `media_every_s` (the media timer's job). A manifest is
taken; then the PostgreSQL cluster is killed and its data folder and the media deleted.
`reelgate restore --to latest` brings the stack back; the drill measures RPO (the disaster's time minus the
newest canary restored, for the database and for the media) and RTO (from the restore's start to the API
healthy and a new upload ready), checks the manifest, and waits for the jobs that were in flight to end."""

from __future__ import annotations

import hashlib
import shutil
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

from reelgate.gates.store import Store
from reelgate.platform.stack import process_info
from reelgate.platform.stack.paths import pg_data_dir
from tests.integration.stack import Stack
from tests.integration.videos import upload, wait_final
from tests.media import make_clip
from tests.waiting import wait_for

VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\nbefore the disaster\n"
# Each table's identity and the columns that never change once written (a video's status and egress move on).
MANIFEST_SQL = {
    "tenants": "SELECT id, name FROM tenants",
    "api_keys": "SELECT id, tenant_id, key_hash FROM api_keys",
    "videos": "SELECT id, tenant_id, filename, title, content_sha256, source_bytes FROM videos",
    "ready": "SELECT id, output_id FROM videos WHERE status = 'ready'",
    "renditions": "SELECT output_id, name, file, bytes FROM renditions",
    "captions": "SELECT video_id, lang, bytes FROM video_captions",
    "audit": "SELECT * FROM audit_events",
    "releases": "SELECT id, candidate, created_at FROM reelgate_gates.releases",
    "release_events": "SELECT * FROM reelgate_gates.events",
}
CANARY_FILES = "drill-canary"


def manifest(stack: Stack) -> dict[str, set[str]]:
    """Every row that matters (as text) and every stored media file's SHA-256."""
    found: dict[str, set[str]] = {}
    with psycopg.connect(stack.settings.db_url) as conn:
        for name, sql in MANIFEST_SQL.items():
            found[name] = {r[0] for r in conn.execute(f"SELECT t::text FROM ({sql}) t").fetchall()}  # noqa: S608
    found["media"] = {
        f"{p.relative_to(stack.media)} {hashlib.sha256(p.read_bytes()).hexdigest()}"
        for sub in ("sources", "outputs", "captions")
        for p in sorted((stack.media / sub).rglob("*"))
        if p.is_file()
    }
    return found


class Loop:
    """`step` every `every` seconds in a thread until stopped; counts what worked and what failed (failures
    are expected while the database is down)."""

    def __init__(self, every: float, step: Callable[[], object]) -> None:
        self.every, self.step, self.halt = every, step, threading.Event()
        self.ok = self.failed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                self.step()
                self.ok += 1
            except Exception:  # noqa: BLE001 (the disaster makes anything fail; counted)
                self.failed += 1

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=120)


class Load:
    """What runs while the drill writes its canaries: uploads of distinct clips, reads of the library and its
    files, releases recorded by the gates, canary rows and files, media snapshots."""

    def __init__(self, stack: Stack, key: str, clips: list[Path], media_every_s: float) -> None:
        url = stack.settings.db_url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS drill_canary (at timestamptz NOT NULL DEFAULT clock_timestamp())")
        (stack.media / CANARY_FILES).mkdir(exist_ok=True)
        self.api, self.clips, self.stack = stack.client(key), list(clips), stack
        self.store = Store(url)
        self.store.migrate()
        self.loops = {
            "canary_rows": Loop(1.0, lambda: self._sql(url, "INSERT INTO drill_canary DEFAULT VALUES")),
            "canary_files": Loop(2.0, lambda: (stack.media / CANARY_FILES / f"{time.time():.3f}").touch()),
            "uploads": Loop(4.0, self._upload),
            "reads": Loop(0.2, self._read),
            "releases": Loop(3.0, self._release),
            "media_snapshots": Loop(media_every_s, lambda: stack.cli("backup", "run", "--media-only")),
        }

    @staticmethod
    def _sql(url: str, sql: str) -> None:
        with psycopg.connect(url, autocommit=True, connect_timeout=1) as conn:
            conn.execute(sql)

    def _upload(self) -> None:
        if self.clips:
            upload(self.api, self.clips.pop(0)).raise_for_status()

    def _read(self) -> None:
        page = self.api.get("/v1/videos", params={"limit": 5}).raise_for_status().json()
        for video in page["items"][:2]:
            if video["status"] == "ready":
                self.api.get(f"{video['url']}/thumbnail").raise_for_status()

    def _release(self) -> None:
        if self.store.conn.closed or self.store.conn.broken:
            self.store = Store(self.store.url)
        rid = f"drill-{time.time_ns()}"
        self.store.create(rid, "drill", "drill", "drill.yaml", "blue", "green")
        for state in ("deploying", "gating", "blocked"):
            self.store.transition(rid, state, f"drill: {state}")
        self.store.audit("release.blocked", "drill", release=rid)

    def pause(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.loops[name].stop()

    def stop(self) -> dict[str, dict[str, int]]:
        for loop in self.loops.values():
            loop.stop()
        self.api.close()
        self.store.close()
        return {name: {"ok": loop.ok, "failed": loop.failed} for name, loop in self.loops.items()}


def clips(folder: Path, count: int) -> list[Path]:
    """Distinct clips (the same bytes would be deduplicated, not processed)."""
    return [
        make_clip(folder / f"load-{i}.mp4", size="320x240", seconds=2, extra=("-metadata", f"comment=drill {i}"))
        for i in range(count)
    ]


def _newest_canary_file(stack: Stack) -> float:
    found = (
        [float(p.name) for p in (stack.media / CANARY_FILES).iterdir()] if (stack.media / CANARY_FILES).exists() else []
    )
    return max(found, default=0.0)


def unfinished(stack: Stack) -> int:
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute("SELECT count(*) FROM videos WHERE status IN ('queued', 'processing')").fetchone()
    return int(row[0]) if row else 0


def missing_files(stack: Stack) -> list[str]:
    """Files the database refers to that the media store lacks (must be none)."""
    with psycopg.connect(stack.settings.db_url) as conn:
        wanted = [
            f"{d}/{f}"
            for d, f in conn.execute("SELECT o.dir, r.file FROM renditions r JOIN outputs o ON o.id = r.output_id")
        ]
        wanted += [f"sources/{v}" for (v,) in conn.execute("SELECT id FROM videos WHERE status <> 'failed'")]
        wanted += [f"captions/{v}/{lang}.vtt" for v, lang in conn.execute("SELECT video_id, lang FROM video_captions")]
    return [w for w in wanted if not (stack.media / w).exists()]


def data_size(stack: Stack) -> dict[str, int]:
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    media = sum(p.stat().st_size for p in stack.media.rglob("*") if p.is_file())
    return {"database_bytes": int(row[0]) if row else 0, "media_bytes": media}


def lose_the_disk(stack: Stack) -> None:
    """PostgreSQL and its children frozen at once, the data folder and the media deleted, then the processes
    killed: the disk is gone in one instant (the supervisor's restarts then find no data folder)."""
    postmaster = psutil.Process(int(str(process_info(stack.settings)["postgres"]["pid"])))
    cluster = [postmaster, *postmaster.children(recursive=True)]
    for proc in cluster:
        proc.send_signal(signal.SIGSTOP)
    for lost in (pg_data_dir(stack.settings), stack.media):
        shutil.rmtree(lost)
    for proc in cluster:
        proc.send_signal(signal.SIGKILL)


def run(stack: Stack, work: Path, load_s: float, media_every_s: float = 15.0, tail_s: float = 0.0) -> dict[str, Any]:
    """The drill on a running stack with backups on; its figures and what it found missing. The disaster
    strikes `tail_s` after the in-flight job's start reached the archive (0: at once, so the test's job is in
    the restored database; the bench waits most of `archive_timeout_s`, the RPO's worst case)."""
    key = stack.tenant("drill", "--rate-limit", "0")
    with stack.client(key) as api:
        made = upload(api, make_clip(work / "before.mp4"))
        made.raise_for_status()
        video = wait_final(api, made.json())
        assert video["status"] == "ready", video
        api.put(f"{video['url']}/captions/en", content=VTT).raise_for_status()
    stack.cli("backup", "run")

    load = Load(stack, key, clips(work, int(load_s / 4) + 2), media_every_s)
    time.sleep(load_s / 2)
    load.pause(("uploads", "releases"))  # a consistent manifest, then a media snapshot that holds it
    wait_for(lambda: unfinished(stack) == 0, 180, "the uploads so far to be processed")
    before = manifest(stack)
    stack.cli("backup", "run", "--media-only")
    load.loops["uploads"] = Loop(4.0, load._upload)
    load.loops["releases"] = Loop(3.0, load._release)
    time.sleep(load_s / 2)
    with stack.client(key) as api:  # a longer job, in flight when the disaster strikes
        flight = upload(api, make_clip(work / "in-flight.mp4", size="1280x720", seconds=30)).raise_for_status().json()
    # its ffmpeg frozen, so it is still running at the disaster however fast this machine is
    frozen = wait_for(lambda: transcoding(flight["id"]), 120, "the long job's ffmpeg", interval=0.05)
    for proc in frozen:
        proc.send_signal(signal.SIGSTOP)
    stack.cli("backup", "run", "--media-only")  # the media timer's run that holds its source
    archived(stack)  # the job's start is in the archive
    time.sleep(tail_s)
    in_flight = _status(stack, flight["id"])
    size = data_size(stack)
    archiver = _archiver(stack)
    load.pause(("media_snapshots",))  # one racing the deletion would snapshot a half-deleted folder (docs)
    disaster = datetime.now(UTC)
    lose_the_disk(stack)
    for proc in frozen:
        proc.send_signal(signal.SIGKILL)
    traffic = load.stop()

    started = time.monotonic()
    restored = stack.cli("restore", "--to", "latest", "--yes")
    with stack.client(key) as api:
        again = upload(api, make_clip(work / "after.mp4", extra=("-metadata", "comment=after")))
        again.raise_for_status()
        assert wait_final(api, again.json())["status"] == "ready"
    rto = time.monotonic() - started

    with psycopg.connect(stack.settings.db_url) as conn:
        newest_row = conn.execute("SELECT max(at) FROM drill_canary").fetchone()[0]  # type: ignore[index]
    newest_file = _newest_canary_file(stack)
    wait_for(lambda: unfinished(stack) == 0, 240, "the jobs in flight at the disaster to end")
    after = manifest(stack)
    with psycopg.connect(stack.settings.db_url) as conn:
        ends: dict[str, int] = dict(
            conn.execute("SELECT coalesce(failure_reason, status), count(*) FROM videos GROUP BY 1").fetchall()
        )
    return {
        "key": key,
        "rpo_database_s": round((disaster - newest_row).total_seconds(), 2),
        "rpo_media_s": round(disaster.timestamp() - newest_file, 2),
        "rto_s": round(rto, 2),
        "restore_said": restored.stdout.strip(),
        "in_flight": {"at_disaster": in_flight, "after": _status(stack, flight["id"])},
        "lost": {name: sorted(before[name] - after[name])[:5] for name in before if before[name] - after[name]},
        "missing_files": missing_files(stack),
        "videos_after": ends,
        "traffic": traffic,
        "data": size,
        "wal_archive_at_disaster": archiver,
        "media_every_s": media_every_s,
        "archive_timeout_s": stack.settings.archive_timeout_s,
        "manifest_rows": sum(len(v) for k, v in before.items() if k != "media"),
        "manifest_files": len(before["media"]),
    }


def _archiver(stack: Stack) -> dict[str, float]:
    """How many WAL segments were archived since PostgreSQL started, over how long, and how long ago the
    newest: under load segments fill faster than `archive_timeout_s`, and the RPO follows the fill rate."""
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute(
            "SELECT archived_count, extract(epoch FROM now() - pg_postmaster_start_time()),"
            " extract(epoch FROM now() - last_archived_time) FROM pg_stat_archiver"
        ).fetchone()
    assert row is not None
    return {"segments": int(row[0]), "over_s": round(float(row[1]), 1), "newest_ago_s": round(float(row[2]), 2)}


def archived(stack: Stack) -> None:
    """Wait until everything written so far is in the archive (within archive_timeout_s and a tick of the
    worker's archive_wal task): the segment of the current WAL position, or a later one, was archived."""
    with psycopg.connect(stack.settings.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO drill_canary DEFAULT VALUES")  # something to archive: an idle WAL is not
        segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]  # type: ignore[index]

    def done() -> bool:
        with psycopg.connect(stack.settings.db_url) as conn:
            row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
        newest = str(row[0]) if row and row[0] else ""
        return len(newest) == 24 and newest >= segment  # segment names sort by timeline and position

    wait_for(done, 60, f"WAL segment {segment} to be archived")


def transcoding(video_id: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if "ffmpeg" in (proc.info["name"] or "") and any(video_id in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _status(stack: Stack, video_id: str) -> str | None:
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute("SELECT status FROM videos WHERE id = %s", (video_id,)).fetchone()
    return str(row[0]) if row else None
