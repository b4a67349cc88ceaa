"""A tenant's database transaction: row-level security sees only that tenant's rows.

Every /v1 route and page that reads or writes a tenant's videos goes through `tenant_db`: the
transaction starts with `SET LOCAL reelgate.tenant` (through `set_config(..., true)`, which takes a
bound value), so even a query that forgot its `tenant_id = ...` filter sees no other tenant's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar.datastructures import State
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from reelgate.platform import repo


@asynccontextmanager
async def tenant_db(state: State, tenant: repo.TenantRow) -> AsyncIterator[AsyncConnection[Any]]:
    async with state.pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT set_config('reelgate.tenant', %s, true)", (str(tenant.id),))
        yield conn


@asynccontextmanager
async def system_db(pool: AsyncConnectionPool[Any]) -> AsyncIterator[AsyncConnection[Any]]:
    """A transaction that sees every tenant's rows, as the worker's does: for the few paths that are
    authorised by something other than a tenant's key (a signed playback URL, the egress meter)."""
    async with pool.connection(timeout=5) as conn, conn.transaction():
        await conn.execute("SELECT set_config('reelgate.scope', 'system', true)")
        yield conn
