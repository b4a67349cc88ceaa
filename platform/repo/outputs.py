"""Outputs (one folder of renditions and a thumbnail per tenant, content and ladder) and their renditions.

Outputs are reference-counted: videos of the same content share one, and deleting a video never breaks another.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


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


async def upsert_output(
    conn: AsyncConnection[Any],
    output_id: UUID,
    tenant_id: UUID,
    sha: str,
    ladder_key: str,
    folder: str,
    thumbnail_bytes: int,
    cpu: float,
    hls_bytes: int | None,
    total_bytes: int,
) -> UUID:
    """Store a new output, or take a reference on an equal one that finished first; return the one used."""
    cur = await conn.execute(
        "INSERT INTO outputs (id, tenant_id, content_sha256, ladder_key, dir, refcount,"
        " thumbnail_bytes, cpu_seconds, hls_bytes, total_bytes) VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, content_sha256, ladder_key)"
        " DO UPDATE SET refcount = outputs.refcount + 1 RETURNING id",
        (output_id, tenant_id, sha, ladder_key, folder, thumbnail_bytes, cpu, hls_bytes, total_bytes),
    )
    found = await cur.fetchone()
    assert found is not None  # the upsert returns its row, inserted or not
    used: UUID = found[0]
    return used


async def insert_rendition(
    conn: AsyncConnection[Any], output_id: UUID, name: str, width: int, height: int, size: int, file: str, remuxed: bool
) -> None:
    await conn.execute(
        "INSERT INTO renditions (output_id, name, width, height, bytes, file, remuxed)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (output_id, name, width, height, size, file, remuxed),
    )


async def playback_folder(conn: AsyncConnection[Any], video_id: UUID) -> str | None:
    """The output folder of a ready video, for a signed playback URL (any tenant's: the signature is
    the authority)."""
    cur = await conn.execute(
        "SELECT o.dir FROM videos v JOIN outputs o ON o.id = v.output_id WHERE v.id = %s AND v.status = 'ready'",
        (video_id,),
    )
    found = await cur.fetchone()
    return str(found[0]) if found else None
