"""The audit log of security events: who did what, when and from where. Append-only: the
application's role may insert and read, never update or delete (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import AsyncConnection

from reelgate.contract import answers

INSERT = "INSERT INTO audit_events (action, tenant_id, tenant, actor, address, detail) VALUES (%s, %s, %s, %s, %s, %s)"


AuditEvent = answers.AuditEvent


def _row(
    action: str, tenant_id: UUID | None, tenant: str | None, actor: str, address: str | None, detail: dict[str, Any]
) -> tuple[Any, ...]:
    return (action, tenant_id, tenant, actor, address, msgspec.json.encode(detail).decode())


async def record(
    conn: AsyncConnection[Any],
    action: str,
    *,
    actor: str,
    address: str | None,
    tenant_id: UUID | None = None,
    tenant: str | None = None,
    **detail: Any,
) -> None:
    await conn.execute(INSERT, _row(action, tenant_id, tenant, actor, address, detail))


def record_sync(
    conn: Any,
    action: str,
    *,
    actor: str,
    address: str | None,
    tenant_id: UUID | None = None,
    tenant: str | None = None,
    **detail: Any,
) -> None:
    conn.execute(INSERT, _row(action, tenant_id, tenant, actor, address, detail))


def events_sync(
    conn: Any, tenant: str | None = None, action: str | None = None, since: datetime | None = None, limit: int = 50
) -> list[AuditEvent]:
    """The newest events first, filtered by tenant name, action (a prefix: `key.` matches `key.created`)
    and time."""
    rows = conn.execute(
        "SELECT at, action, tenant, actor, address, detail FROM audit_events"
        " WHERE (%(tenant)s::text IS NULL OR tenant = %(tenant)s)"
        " AND (%(action)s::text IS NULL OR action LIKE %(action)s || '%%')"
        " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
        " ORDER BY at DESC, id DESC LIMIT %(limit)s",
        {"tenant": tenant, "action": action, "since": since, "limit": limit},
    ).fetchall()
    return [AuditEvent(*row) for row in rows]
