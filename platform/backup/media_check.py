"""After a restore, the database and the media store must agree: nothing may refer to a missing file.

Media keys are never reused (sources and captions by video id, outputs by a fresh id), and a deleted file
waits in `trash/` for the grace period, so most gaps close by putting a file back from the trash. What is
still missing was written after the newest media snapshot: a video whose renditions are gone but whose
source is kept is processed again (the reconcile task defers its job within 30 s); one whose source is
gone too ends `failed` with a reason; a caption without its file is dropped. Files no row refers to (made
after the point restored to) go to the trash, where the grace period collects them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg

from reelgate.platform.pipeline.media import KEPT, MediaStore
from reelgate.platform.settings import Settings

LOST = "This video's files were lost in a restore from backup (newer than the last media snapshot); upload it again."
UNFINISHED = ("queued", "processing")


class MediaCheck(msgspec.Struct, kw_only=True):
    references: int
    """Files the database refers to."""
    untrashed: int = 0
    """Put back from the trash (deleted after the point restored to)."""
    reprocessed: int = 0
    """Videos whose renditions were missing, queued again from their source."""
    failed: int = 0
    """Videos whose source and renditions were both missing."""
    captions_dropped: int = 0
    orphans: int = 0
    """Files no row refers to, moved to the trash."""


Videos = list[tuple[UUID, str, UUID | None]]


def _references(conn: psycopg.Connection[Any]) -> tuple[Videos, dict[UUID, str], list[str]]:
    videos = [(r[0], r[1], r[2]) for r in conn.execute("SELECT id, status, output_id FROM videos")]
    outputs = {r[0]: r[1] for r in conn.execute("SELECT id, dir FROM outputs")}
    captions = [f"captions/{r[0]}/{r[1]}.vtt" for r in conn.execute("SELECT video_id, lang FROM video_captions")]
    return videos, outputs, captions


def _present(store: MediaStore, relative: str, found: MediaCheck) -> bool:
    if store.resolve(relative).exists():
        return True
    if store.untrash(relative):
        found.untrashed += 1
        return True
    return False


def reconcile(settings: Settings, older_than: float) -> MediaCheck:
    """Make the restored database and media agree. Only files last changed before `older_than` (the
    restore's start, as a Unix time) can be orphans: an upload that arrives meanwhile is not one."""
    store = MediaStore(settings.media, settings.media_grace)
    with psycopg.connect(settings.db_url, autocommit=True, connect_timeout=10) as conn:
        videos, outputs, captions = _references(conn)
        found = MediaCheck(references=len(videos) + len(outputs) + len(captions))
        missing_outputs = {oid for oid, folder in outputs.items() if not _present(store, folder, found)}
        sources = {vid for vid, _, _ in videos if _present(store, f"sources/{vid}", found)}
        with conn.transaction():
            for vid, status, output_id in videos:
                if output_id in missing_outputs or (status in UNFINISHED and vid not in sources):
                    if vid in sources:
                        found.reprocessed += 1
                        conn.execute(
                            "UPDATE videos SET status = 'queued', output_id = NULL, progress = 0, finished_at = NULL,"
                            " attempts = 0, updated_at = now() - interval '1 hour' WHERE id = %s",
                            (vid,),
                        )  # updated an hour ago: due for the reconcile task's next pass
                    else:
                        found.failed += 1
                        conn.execute(
                            "UPDATE videos SET status = 'failed', output_id = NULL, failure_reason = %s,"
                            " finished_at = now() WHERE id = %s",
                            (LOST, vid),
                        )
            for oid in missing_outputs:
                conn.execute("DELETE FROM outputs WHERE id = %s", (oid,))
            for relative in captions:
                if not _present(store, relative, found):
                    owner, lang = relative.split("/")[1], Path(relative).stem
                    conn.execute("DELETE FROM video_captions WHERE video_id = %s AND lang = %s", (owner, lang))
                    found.captions_dropped += 1
        known = {f"sources/{vid}" for vid, _, _ in videos} | set(outputs.values())
        known |= {str(Path(c).parent) for c in captions}
        orphans = [
            f"{sub}/{entry.name}"
            for sub in KEPT
            for entry in (settings.media / sub).iterdir()
            if f"{sub}/{entry.name}" not in known and entry.stat().st_mtime < older_than
        ]
        store.discard(orphans)
        found.orphans = len(orphans)
    return found
