"""A tenant's database transaction: row-level security sees only that tenant's rows.

Every /v1 route and page that reads or writes a tenant's videos goes through `tenant_db`: the
transaction starts with `SET LOCAL reelgate.tenant` (through `set_config(..., true)`), so even a query
that forgot its `tenant_id = ...` filter sees no other tenant's rows.

A request's transaction costs three round trips: BEGIN together with the setting, the query, COMMIT.
The pool does not check a connection on checkout (one more round trip on every request, a fifth of a
library page's); instead, a connection the server has dropped (PostgreSQL restarted) fails on that
first round trip, before any work, and is replaced once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from litestar.datastructures import State
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from reelgate.platform import repo


async def _get(pool: AsyncConnectionPool[Any], first: sql.Composable, wait_s: float | None) -> AsyncConnection[Any]:
    """A pooled connection that has run `first`. When PostgreSQL has dropped it, it is discarded,
    every idle connection is tested (the others were dropped too), and the next one is used."""
    for attempt in range(2):
        conn = await pool.getconn(wait_s)
        try:
            await conn.execute(first)
            return conn
        except psycopg.OperationalError:
            await pool.putconn(conn)  # broken: the pool discards it
            if attempt:
                raise
            await pool.check()
        except BaseException:  # cancelled (the client left): the connection goes back, not astray
            await pool.putconn(conn)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


@asynccontextmanager
async def _transaction(
    pool: AsyncConnectionPool[Any], setting: str, value: str, wait_s: float | None = None
) -> AsyncIterator[AsyncConnection[Any]]:
    # No parameters, so both statements go in one message; psycopg quotes the values.
    begin = sql.SQL("BEGIN; SELECT set_config({}, {}, true)").format(sql.Literal(setting), sql.Literal(value))
    conn = await _get(pool, begin, wait_s)
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")
        raise
    else:
        await conn.execute("COMMIT")
    finally:
        await pool.putconn(conn)


def tenant_db(state: State, tenant: repo.TenantRow) -> contextlib.AbstractAsyncContextManager[AsyncConnection[Any]]:
    return _transaction(state.pool, "reelgate.tenant", str(tenant.id))


def system_db(pool: AsyncConnectionPool[Any]) -> contextlib.AbstractAsyncContextManager[AsyncConnection[Any]]:
    """A transaction that sees every tenant's rows, as the worker's does: for the few paths that are
    authorised by something other than a tenant's key (a signed playback URL, the egress meter)."""
    return _transaction(pool, "reelgate.scope", "system", wait_s=5)


@asynccontextmanager
async def connection(pool: AsyncConnectionPool[Any]) -> AsyncIterator[AsyncConnection[Any]]:
    """An autocommit connection outside a tenant's transaction (a key the cache does not hold, a
    health probe), tested with an empty query first, as the pool's own check would."""
    conn = await _get(pool, sql.SQL(""), None)
    try:
        yield conn
    finally:
        await pool.putconn(conn)
