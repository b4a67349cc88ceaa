"""Videos: the API's reads, the upload's insert, and the worker's state changes."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from reelgate.platform.http.schemas import Caption, Rendition, Video
from reelgate.platform.pipeline.transcode import downloadable

_VIDEO_COLUMNS = """
    v.id, v.title, v.filename, v.status, v.progress, v.failure_reason, v.source_bytes, v.content_sha256,
    v.duration_s, v.width, v.height, v.video_codec, v.audio_codec, v.created_at, v.updated_at,
    v.finished_at, v.output_id, o.thumbnail_bytes, o.hls_bytes,
    COALESCE((SELECT json_agg(json_build_object('name', r.name, 'width', r.width, 'height', r.height,
                                                'bytes', r.bytes, 'file', r.file)
                              ORDER BY r.width * r.height DESC)
              FROM renditions r WHERE r.output_id = v.output_id), '[]'::json) AS renditions,
    COALESCE((SELECT json_agg(json_build_object('lang', c.lang, 'label', c.label, 'cues', c.cues,
                                                'bytes', c.bytes) ORDER BY c.created_at, c.lang)
              FROM video_captions c WHERE c.video_id = v.id), '[]'::json) AS captions
"""


def to_video(row: dict[str, Any]) -> Video:
    base = f"/v1/videos/{row['id']}"
    ready = row["status"] == "ready"
    renditions = [
        Rendition(
            name=r["name"],
            width=r["width"],
            height=r["height"],
            bytes=r["bytes"],
            url=f"{base}/renditions/{r['name']}" if downloadable(r["file"]) else None,
        )
        for r in (row["renditions"] if ready else [])
    ]
    return Video(
        id=row["id"],
        url=base,
        title=row["title"],
        filename=row["filename"],
        status=row["status"],
        progress=round(float(row["progress"]), 3),
        failure_reason=row["failure_reason"],
        source_bytes=row["source_bytes"],
        content_sha256=row["content_sha256"],
        duration_s=row["duration_s"],
        width=row["width"],
        height=row["height"],
        video_codec=row["video_codec"],
        audio_codec=row["audio_codec"],
        renditions=renditions,
        thumbnail_url=f"{base}/thumbnail" if ready and row["thumbnail_bytes"] else None,
        events_url=f"{base}/events",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        hls=ready and row["hls_bytes"] is not None,
        playback_url=f"{base}/playback" if ready else None,
        captions=[
            Caption(
                lang=c["lang"], label=c["label"], cues=c["cues"], bytes=c["bytes"], url=f"{base}/captions/{c['lang']}"
            )
            for c in row["captions"]
        ],
    )


async def get_video(conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID) -> Video | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_VIDEO_COLUMNS} FROM videos v LEFT JOIN outputs o ON o.id = v.output_id"
            " WHERE v.id = %s AND v.tenant_id = %s",
            (video_id, tenant_id),
        )
        row = await cur.fetchone()
    return to_video(row) if row else None


def encode_cursor(created_at: datetime, video_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{video_id}".encode()).decode().rstrip("=")


async def video_states(conn: AsyncConnection[Any], tenant_id: UUID, ids: list[UUID]) -> list[tuple[UUID, str, float]]:
    """(id, status, progress) of those of `ids` that are this tenant's; one query for a library page."""
    cur = await conn.execute(
        "SELECT id, status, progress FROM videos WHERE tenant_id = %s AND id = ANY(%s)", (tenant_id, ids)
    )
    return [(row[0], row[1], float(row[2])) for row in await cur.fetchall()]


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises ValueError for anything that is not a cursor this API gave out."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    when, _, ident = raw.partition("|")
    return datetime.fromisoformat(when), UUID(ident)


async def list_videos(
    conn: AsyncConnection[Any], tenant_id: UUID, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[list[Video], str | None]:
    """Newest first, keyset-paginated on (created_at, id): stable under inserts, no OFFSET scans."""
    where = "tenant_id = %s"
    params: list[object] = [tenant_id]
    if after:
        where += " AND (created_at, id) < (%s, %s)"
        params += [after[0], after[1]]
    async with conn.cursor(row_factory=dict_row) as cur:
        # The page is cut first, then joined: otherwise the planner, which cannot see through the
        # row-level security filter, may join every video of the tenant to its output and sort them all.
        await cur.execute(
            f"SELECT {_VIDEO_COLUMNS} FROM (SELECT * FROM videos WHERE {where}"
            " ORDER BY created_at DESC, id DESC LIMIT %s) v LEFT JOIN outputs o ON o.id = v.output_id"
            " ORDER BY v.created_at DESC, v.id DESC",
            (*params, limit + 1),
        )
        rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return [to_video(r) for r in rows], cursor


async def delete_video(conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID) -> tuple[bool, str | None]:
    """Delete the row and release its output; return (found, output dir to remove if no video uses it)."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM videos WHERE id = %s AND tenant_id = %s RETURNING output_id", (video_id, tenant_id)
        )
        row = await cur.fetchone()
        if row is None:
            return False, None
        if row[0] is None:
            return True, None
        cur = await conn.execute(
            "UPDATE outputs SET refcount = refcount - 1 WHERE id = %s RETURNING refcount, dir", (row[0],)
        )
        refcount, folder = await cur.fetchone()  # type: ignore[misc]
        if refcount == 0:
            await conn.execute("DELETE FROM outputs WHERE id = %s", (row[0],))
            return True, folder
    return True, None


def reassign_unfinished_sync(conn: Any, from_color: str, to_color: str) -> int:
    """Unfinished videos of a color that stops belong to the other color from now on."""
    return int(
        conn.execute(
            "UPDATE videos SET color = %s WHERE color = %s AND status IN ('queued', 'processing')",
            (to_color, from_color),
        ).rowcount
    )


async def insert_video(conn: AsyncConnection[Any], fields: dict[str, Any], finished: bool) -> None:
    """A new upload's row (its job is deferred in the same transaction by the caller)."""
    names = ", ".join(fields)
    marks = ", ".join(["%s"] * len(fields))
    await conn.execute(
        f"INSERT INTO videos ({names}, finished_at) VALUES ({marks}, CASE WHEN %s THEN now() END)",
        (*fields.values(), finished),
    )


async def rename_video(conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, title: str) -> bool:
    cur = await conn.execute(
        "UPDATE videos SET title = %s, updated_at = now() WHERE id = %s AND tenant_id = %s RETURNING id",
        (title, video_id, tenant_id),
    )
    return await cur.fetchone() is not None


async def usage_rows(conn: AsyncConnection[Any], tenant_id: UUID) -> list[tuple[Any, ...]]:
    """(id, title or file name, status, source seconds, CPU seconds, output bytes, egress bytes) per
    video, newest first."""
    cur = await conn.execute(
        "SELECT v.id, COALESCE(NULLIF(v.title, ''), v.filename, ''), v.status, COALESCE(v.duration_s, 0),"
        " v.cpu_seconds,"
        # total_bytes is NULL only for an output the previous release made: add its parts up.
        " COALESCE(o.total_bytes, COALESCE((SELECT sum(r.bytes) FROM renditions r WHERE r.output_id = v.output_id), 0)"
        "   + COALESCE(o.thumbnail_bytes, 0) + COALESCE(o.hls_bytes, 0)), v.egress_bytes"
        " FROM videos v LEFT JOIN outputs o ON o.id = v.output_id WHERE v.tenant_id = %s"
        " ORDER BY v.created_at DESC",
        (tenant_id,),
    )
    return list(await cur.fetchall())


# -- the worker's side ----------------------------------------------------------------


async def start_processing(conn: AsyncConnection[Any], video_id: UUID) -> dict[str, Any] | None:
    """Count an attempt; None when the video was deleted or an earlier attempt finished it."""
    cur = await conn.cursor(row_factory=dict_row).execute(
        "UPDATE videos SET status = 'processing', attempts = attempts + 1, progress = 0,"
        " updated_at = now() WHERE id = %s AND status IN ('queued', 'processing')"
        " RETURNING tenant_id, content_sha256, ladder_key, attempts",
        (video_id,),
    )
    return await cur.fetchone()


FENCE = " AND status = 'processing' AND attempts = %s"
"""A worker writes only while its attempt is the newest: one that was cut off (or stalled) and came back after
its job was retried elsewhere must not overwrite the retry's outcome."""


async def requeue(conn: AsyncConnection[Any], video_id: UUID, attempt: int) -> bool:
    """Back to `queued` without counting the attempt that could not run (the media store was full); False
    when a newer attempt owns the video."""
    cur = await conn.execute(
        "UPDATE videos SET status = 'queued', attempts = greatest(attempts - 1, 0), progress = 0,"
        " updated_at = now() WHERE id = %s" + FENCE,
        (video_id, attempt),
    )
    return cur.rowcount > 0


async def set_progress(conn: AsyncConnection[Any], video_id: UUID, share: float, attempt: int) -> bool:
    """False when the attempt is no longer the newest (nothing to announce then)."""
    cur = await conn.execute(
        "UPDATE videos SET progress = %s, updated_at = now() WHERE id = %s" + FENCE, (share, video_id, attempt)
    )
    return cur.rowcount > 0


async def touch_video(conn: AsyncConnection[Any], video_id: UUID) -> None:
    await conn.execute("UPDATE videos SET updated_at = now() WHERE id = %s", (video_id,))


async def mark_ready(conn: AsyncConnection[Any], video_id: UUID, output_id: UUID, cpu: float, attempt: int) -> bool:
    """False when the video was deleted meanwhile, or a newer attempt owns it (FENCE)."""
    cur = await conn.execute(
        "UPDATE videos SET status = 'ready', progress = 1, output_id = %s, cpu_seconds = %s,"
        " failure_reason = NULL, updated_at = now(), finished_at = now() WHERE id = %s" + FENCE + " RETURNING id",
        (output_id, cpu, video_id, attempt),
    )
    return await cur.fetchone() is not None


async def mark_failed(conn: AsyncConnection[Any], video_id: UUID, reason: str, attempt: int | None = None) -> bool:
    """`attempt`: only while that attempt is the newest (FENCE); None: the reconcile task's verdict. Whether
    it applied."""
    fence, args = (FENCE, (reason, video_id, attempt)) if attempt is not None else ("", (reason, video_id))
    cur = await conn.execute(
        "UPDATE videos SET status = 'failed', failure_reason = %s, updated_at = now(),"
        " finished_at = now() WHERE id = %s" + fence,
        args,
    )
    return cur.rowcount > 0


async def orphaned_videos(conn: AsyncConnection[Any], idle_s: float) -> list[tuple[UUID, str, int, UUID]]:
    """(id, color, attempts, tenant) of videos queued or processing for `idle_s` with no live job."""
    cur = await conn.execute(
        "SELECT v.id, v.color, v.attempts, v.tenant_id FROM videos v"
        " WHERE v.status IN ('queued', 'processing') AND v.updated_at < now() - make_interval(secs => %s)"
        " AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = 'transcode_video'"
        "   AND j.args->>'video_id' = v.id::text AND j.status IN ('todo', 'doing'))",
        (idle_s,),
    )
    return [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]
