"""Caption tracks: one per video and language; the text itself is a file in the media store."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


async def upsert_caption(
    conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, lang: str, label: str, cues: int, size: int
) -> bool:
    """Add or replace a track of one of the tenant's videos; False when the tenant has no such video.

    The row lock makes two uploads of one track take turns until the caller's transaction ends.
    """
    cur = await conn.execute(
        "INSERT INTO video_captions (video_id, lang, label, cues, bytes)"
        " SELECT id, %s, %s, %s, %s FROM videos WHERE id = %s AND tenant_id = %s"
        " ON CONFLICT (video_id, lang) DO UPDATE SET label = EXCLUDED.label, cues = EXCLUDED.cues,"
        " bytes = EXCLUDED.bytes, updated_at = now() RETURNING lang",
        (lang, label, cues, size, video_id, tenant_id),
    )
    return await cur.fetchone() is not None


async def delete_caption(conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, lang: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM video_captions c USING videos v WHERE c.video_id = v.id AND v.id = %s"
        " AND v.tenant_id = %s AND c.lang = %s RETURNING c.lang",
        (video_id, tenant_id, lang),
    )
    return await cur.fetchone() is not None


async def has_caption(conn: AsyncConnection[Any], tenant_id: UUID, video_id: UUID, lang: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM video_captions c JOIN videos v ON v.id = c.video_id"
        " WHERE v.id = %s AND v.tenant_id = %s AND c.lang = %s",
        (video_id, tenant_id, lang),
    )
    return await cur.fetchone() is not None
