"""SQL for tenants, keys, videos and outputs. Every function takes the caller's connection,
so a caller can put several in one transaction."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from reelgate.platform.schemas import Caption, Rendition, Video

KEY_PREFIX = "rg_"


class TenantRow(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    rate_limit_per_minute: int | None


def new_api_key() -> str:
    """A high-entropy key (256 bits): a plain SHA-256 of it is as safe as a slow hash."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


# -- tenants ------------------------------------------------------------------


def create_tenant_sync(conn: Any, name: str, rate_limit: int | None) -> tuple[UUID, str]:
    """Create a tenant and its first key (sync, for the CLI); return (id, key)."""
    key = new_api_key()
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO tenants (name, rate_limit_per_minute) VALUES (%s, %s) RETURNING id", (name, rate_limit)
        ).fetchone()
        conn.execute(
            "INSERT INTO api_keys (tenant_id, key_hash, prefix) VALUES (%s, %s, %s)",
            (row[0], hash_key(key), key[:8]),
        )
    return row[0], key


def delete_tenant_sync(conn: Any, name: str) -> tuple[list[UUID], list[str]] | None:
    """Delete a tenant with its keys, videos, outputs and captions (the foreign keys cascade); return the
    video ids and output folders whose files are now unused, or None when there is no such tenant."""
    with conn.transaction():
        row = conn.execute("SELECT id FROM tenants WHERE name = %s FOR UPDATE", (name,)).fetchone()
        if row is None:
            return None
        video_ids = [r[0] for r in conn.execute("SELECT id FROM videos WHERE tenant_id = %s", (row[0],))]
        folders = [r[0] for r in conn.execute("SELECT dir FROM outputs WHERE tenant_id = %s", (row[0],))]
        conn.execute("DELETE FROM tenants WHERE id = %s", (row[0],))
    return video_ids, folders


def reassign_unfinished_sync(conn: Any, from_color: str, to_color: str) -> int:
    """Unfinished videos of a color that stops belong to the other color from now on."""
    return int(
        conn.execute(
            "UPDATE videos SET color = %s WHERE color = %s AND status IN ('queued', 'processing')",
            (to_color, from_color),
        ).rowcount
    )


async def tenant_for_key(conn: AsyncConnection[Any], key: str) -> TenantRow | None:
    cur = await conn.execute(
        "SELECT t.id, t.name, t.rate_limit_per_minute FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL",
        (hash_key(key),),
    )
    row = await cur.fetchone()
    return TenantRow(*row) if row else None


async def sign_in_key(conn: AsyncConnection[Any], key: str) -> tuple[TenantRow, UUID] | None:
    """The tenant and key id for a key typed into the sign-in page (the session keeps the id)."""
    cur = await conn.execute(
        "SELECT t.id, t.name, t.rate_limit_per_minute, k.id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL",
        (hash_key(key),),
    )
    row = await cur.fetchone()
    return (TenantRow(*row[:3]), row[3]) if row else None


async def tenant_for_key_id(conn: AsyncConnection[Any], key_id: UUID) -> TenantRow | None:
    """A session's tenant, as long as the key it signed in with is not revoked."""
    cur = await conn.execute(
        "SELECT t.id, t.name, t.rate_limit_per_minute FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.id = %s AND k.revoked_at IS NULL",
        (key_id,),
    )
    row = await cur.fetchone()
    return TenantRow(*row) if row else None


# -- videos ---------------------------------------------------------------------

_VIDEO_COLUMNS = """
    v.id, v.title, v.filename, v.status, v.progress, v.failure_reason, v.source_bytes, v.content_sha256,
    v.duration_s, v.width, v.height, v.video_codec, v.audio_codec, v.created_at, v.updated_at,
    v.finished_at, v.output_id, o.thumbnail_bytes,
    COALESCE((SELECT json_agg(json_build_object('name', r.name, 'width', r.width, 'height', r.height,
                                                'bytes', r.bytes) ORDER BY r.width * r.height DESC)
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
            name=r["name"], width=r["width"], height=r["height"], bytes=r["bytes"], url=f"{base}/renditions/{r['name']}"
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
    where = "v.tenant_id = %s"
    params: list[object] = [tenant_id]
    if after:
        where += " AND (v.created_at, v.id) < (%s, %s)"
        params += [after[0], after[1]]
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_VIDEO_COLUMNS} FROM videos v LEFT JOIN outputs o ON o.id = v.output_id"
            f" WHERE {where} ORDER BY v.created_at DESC, v.id DESC LIMIT %s",
            (*params, limit + 1),
        )
        rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return [to_video(r) for r in rows], cursor


async def reuse_output(conn: AsyncConnection[Any], tenant_id: UUID, sha: str, ladder: str) -> UUID | None:
    """Take one more reference on a finished output of the same content and ladder, if any.

    The UPDATE locks the row, so it cannot race a DELETE that drops the last reference.
    """
    cur = await conn.execute(
        "UPDATE outputs SET refcount = refcount + 1"
        " WHERE tenant_id = %s AND content_sha256 = %s AND ladder_key = %s RETURNING id",
        (tenant_id, sha, ladder),
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def rendition_file(
    conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, name: str | None
) -> tuple[str, str, int] | None:
    """(output dir, file name, bytes) of a ready video's rendition, or of its thumbnail when name is None."""
    if name is None:
        cur = await conn.execute(
            "SELECT o.dir, 'thumbnail.jpg', o.thumbnail_bytes FROM videos v JOIN outputs o ON o.id = v.output_id"
            " WHERE v.id = %s AND v.tenant_id = %s AND v.status = 'ready' AND o.thumbnail_bytes > 0",
            (video_id, tenant_id),
        )
    else:
        cur = await conn.execute(
            "SELECT o.dir, r.file, r.bytes FROM videos v JOIN outputs o ON o.id = v.output_id"
            " JOIN renditions r ON r.output_id = o.id"
            " WHERE v.id = %s AND v.tenant_id = %s AND v.status = 'ready' AND r.name = %s",
            (video_id, tenant_id, name),
        )
    row = await cur.fetchone()
    return (row[0], row[1], row[2]) if row else None


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
