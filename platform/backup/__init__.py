"""Backups and restores of the local stack (docs/operations.md): the database with pgBackRest (continuous WAL
archiving, base backups, point-in-time restore), media and secrets with restic.

`run` backs everything up and checks it, `listing` says what exists, `verify` proves the repositories, and
`restore` puts a stack back as it was at the newest archived transaction or at a time: database, media,
secrets, then the stack is started, the database and the media store are made to agree (media_check.py),
and the queue's jobs that were in flight run again (their worker's heartbeat is stale, so the stalled-job
check retries them)."""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import msgspec

from reelgate.platform.backup import media_check, pgbackrest, restic
from reelgate.platform.pipeline.media import KEPT
from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError, pg_data_dir, run_as_postgres

SECRETS_KEPT = ("db_password", "db_app_password", "session_key")
"""What `var/secrets` holds that a restored stack needs (never the backup key itself)."""


class BackupRun(msgspec.Struct, kw_only=True):
    database: str
    """pgBackRest's label of the backup made."""
    database_type: str
    media_snapshot: str
    secrets_snapshot: str
    seconds: float
    finished_at: datetime
    finished_at_epoch: float
    """The same, for the metrics (`reelgate_backup_last_success_timestamp_seconds`)."""


class Restored(msgspec.Struct, kw_only=True):
    to: str
    """`latest`, or the time restored to."""
    database_backup: str
    media_snapshot: str
    seconds: float
    """From the start of the restore to the stack answering."""
    media: media_check.MediaCheck


def reelgate_version() -> str:
    try:
        return version("reelgate")
    except PackageNotFoundError:  # a checkout run without installing it
        return "0+unknown"


def _require(settings: Settings) -> None:
    if not settings.backup_dir:
        raise StackError("backups are off: set backup_dir in reelgate.toml (or REELGATE_BACKUP_DIR) and run `stack up`")


@contextmanager
def _one_at_a_time(settings: Settings) -> Iterator[None]:
    """Backup runs wait for each other (the media timer's and the daily one can meet): restic 0.14 refuses a
    locked repository instead of waiting."""
    folder = Path(settings.backup_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "reelgate.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run(settings: Settings, media_only: bool = False) -> BackupRun:
    """A database backup (the first full, then incremental) checked with `pgbackrest check`, then a snapshot
    of the media and of the secrets; old ones are forgotten by the retention rules. `media_only` takes the
    snapshots alone: between base backups the WAL archive already keeps the database current, while the
    media are only as fresh as their newest snapshot (a timer takes one every few minutes)."""
    _require(settings)
    with _one_at_a_time(settings):
        return _run(settings, media_only)


def _run(settings: Settings, media_only: bool) -> BackupRun:
    # Before any work: a lost or unmounted media disk must not become the newest media snapshot.
    if not all((settings.media / sub).is_dir() for sub in KEPT):
        raise StackError(
            f"the media folder {settings.media} is missing or not a media store (a lost or unmounted disk?): "
            "not backing up, so the newest media snapshot stays a good one"
        )
    started = time.monotonic()
    backups = pgbackrest.info(settings).get("backup", [])
    if media_only and not backups:
        raise StackError("there is no database backup yet: run `reelgate backup run` once first")
    kind = "none" if media_only else "incr" if any(b["type"] == "full" for b in backups) else "full"
    if not media_only:
        pgbackrest.run(settings, f"--type={kind}", f"--annotation=reelgate-version={reelgate_version()}", "backup")
        pgbackrest.run(settings, "check")
        backups = pgbackrest.info(settings)["backup"]
    newest = backups[-1]
    snapshot = {}
    for name, paths in (("media", [settings.media]), ("secrets", [settings.var / "secrets" / n for n in SECRETS_KEPT])):
        restic.ensure(settings, name)
        existing = [str(p) for p in paths if p.exists()]
        restic.run(settings, name, "backup", "--tag", name, "--host", "reelgate", *existing)
        restic.run(settings, name, "forget", "--prune", "--tag", name, *restic.KEEP)
        snapshot[name] = restic.snapshots(settings, name)[-1]["short_id"]
    done = BackupRun(
        database=newest["label"], database_type=kind, media_snapshot=snapshot["media"],
        secrets_snapshot=snapshot["secrets"], seconds=round(time.monotonic() - started, 2),
        finished_at=datetime.now(UTC), finished_at_epoch=time.time(),
    )  # fmt: skip
    settings.backup_status.parent.mkdir(parents=True, exist_ok=True)
    for status in (settings.media_status, *([] if media_only else [settings.backup_status])):
        status.write_bytes(msgspec.json.encode(done))
    return done


def listing(settings: Settings) -> dict[str, Any]:
    """The database's backups and archive, and the media and secrets snapshots."""
    _require(settings)
    found = pgbackrest.info(settings)
    archive = (found.get("archive") or [{}])[-1]
    return {
        "database": [
            {
                "label": b["label"], "type": b["type"], "size": b["info"]["size"],
                "start": datetime.fromtimestamp(b["timestamp"]["start"], UTC),
                "stop": datetime.fromtimestamp(b["timestamp"]["stop"], UTC),
                "version": (b.get("annotation") or {}).get("reelgate-version", "?"),
            }
            for b in found.get("backup", [])
        ],
        "archive": {"min": archive.get("min"), "max": archive.get("max")},
        "media": restic.snapshots(settings, "media"),
        "secrets": restic.snapshots(settings, "secrets"),
    }  # fmt: skip


def verify(settings: Settings) -> list[str]:
    """pgBackRest's `verify` (every file's checksum, the archive's continuity) and `restic check` of both
    repositories; what each said."""
    _require(settings)
    with _one_at_a_time(settings):
        return _verify(settings)


def _verify(settings: Settings) -> list[str]:
    said = [f"database: {pgbackrest.run(settings, 'verify').strip() or 'verified'}"]
    for name in ("media", "secrets"):
        restic.run(settings, name, "check")
        said.append(f"{name}: no errors")
    return said


def _media_snapshot(settings: Settings, to: datetime | None) -> dict[str, Any] | None:
    """The first media snapshot taken at or after `to`: media files are never rewritten and a deleted one
    waits in the trash for the grace period, so it holds every file the database referred to at `to`
    (what is newer is collected as orphans). Without one, or for `latest`, the newest."""
    found = restic.snapshots(settings, "media")
    later = [s for s in found if to is not None and datetime.fromisoformat(s["time"]) >= to]
    return later[0] if later else found[-1] if found else None


def restore(settings: Settings, to: datetime | None, stop: Any, start: Any) -> Restored:
    """The stack as it was at `to` (None: the newest archived transaction). `stop()` and `start()` stop and
    start the stack (its lifecycle's `down` and `up`). Refused when the backup was made by another version."""
    _require(settings)
    if to is not None and to > datetime.now(UTC):
        raise StackError(f"{to.isoformat()} is in the future: restore to a past time, or to `latest`")
    with _one_at_a_time(settings):
        return _restore(settings, to, stop, start)


def _restore(settings: Settings, to: datetime | None, stop: Any, start: Any) -> Restored:
    started, began = time.monotonic(), time.time()
    backups = pgbackrest.info(settings).get("backup", [])
    if to is not None:
        backups = [b for b in backups if datetime.fromtimestamp(b["timestamp"]["stop"], UTC) <= to]
    if not backups:
        raise StackError(f"no database backup {'before ' + to.isoformat() if to else 'yet'} in {settings.backup_dir}")
    made_by = (backups[-1].get("annotation") or {}).get("reelgate-version", "?")
    if made_by != reelgate_version():
        raise StackError(
            f"the backup {backups[-1]['label']} was made by reelgate {made_by}, this is reelgate "
            f"{reelgate_version()}: restore with reelgate {made_by}, then upgrade (docs/operations.md)"
        )
    stop()
    data = pg_data_dir(settings)
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, mode=0o700)
    if run_as_postgres():
        shutil.chown(data, "postgres", "postgres")
    target = ["--type=time", f"--target={to.isoformat()}", "--target-action=promote"] if to else []
    pgbackrest.run(settings, f"--set={backups[-1]['label']}", *target, "restore")
    secrets = restic.snapshots(settings, "secrets")  # the newest: its passwords match the roles
    if secrets:
        restic.restore_into(settings, "secrets", secrets[-1], settings.var / "secrets")
    media = _media_snapshot(settings, to)
    if media is not None:
        restic.restore_into(settings, "media", media, settings.media)
    start()
    checked = media_check.reconcile(settings, older_than=began)
    return Restored(
        to=to.isoformat() if to else "latest", database_backup=backups[-1]["label"],
        media_snapshot=media["short_id"] if media else "none", seconds=round(time.monotonic() - started, 2),
        media=checked,
    )  # fmt: skip
