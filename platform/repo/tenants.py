"""Tenants and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import AsyncConnection

from reelgate.contract.tokens import hash_secret, new_secret

KEY_PREFIX = "rg_"


class TenantRow(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    rate_limit_per_minute: int | None


def new_api_key() -> str:
    """A high-entropy key (256 bits): a plain SHA-256 of it is as safe as a slow hash."""
    return new_secret(KEY_PREFIX)


def hash_key(key: str) -> bytes:
    return hash_secret(key)


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


class TenantSummary(msgspec.Struct, frozen=True):
    name: str
    videos: int
    stored_bytes: int
    rate_limit_per_minute: int | None
    created_at: datetime


def list_tenants_sync(conn: Any) -> list[TenantSummary]:
    """Every tenant with its videos and the bytes it stores (sources and outputs), oldest first."""
    rows = conn.execute(
        "SELECT t.name, (SELECT count(*) FROM videos v WHERE v.tenant_id = t.id),"
        " (SELECT COALESCE(sum(v.source_bytes), 0) FROM videos v WHERE v.tenant_id = t.id)"
        "  + (SELECT COALESCE(sum(r.bytes), 0) FROM outputs o JOIN renditions r ON r.output_id = o.id"
        "     WHERE o.tenant_id = t.id),"
        " t.rate_limit_per_minute, t.created_at FROM tenants t ORDER BY t.created_at"
    ).fetchall()
    return [
        TenantSummary(name, int(videos), int(stored), limit, created) for name, videos, stored, limit, created in rows
    ]


class KeyRow(msgspec.Struct, frozen=True):
    id: UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def tenant_id_sync(conn: Any, name: str) -> UUID | None:
    row = conn.execute("SELECT id FROM tenants WHERE name = %s", (name,)).fetchone()
    return row[0] if row else None


def create_key_sync(conn: Any, tenant_id: UUID) -> tuple[UUID, str]:
    """A new key for the tenant (its other keys keep working); return (key id, key)."""
    key = new_api_key()
    row = conn.execute(
        "INSERT INTO api_keys (tenant_id, key_hash, prefix) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, hash_key(key), key[:8]),
    ).fetchone()
    return row[0], key


def keys_sync(conn: Any, tenant_id: UUID) -> list[KeyRow]:
    rows = conn.execute(
        "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = %s ORDER BY created_at",
        (tenant_id,),
    ).fetchall()
    return [KeyRow(*row) for row in rows]


def revoke_key_sync(conn: Any, key_id: UUID) -> None:
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
