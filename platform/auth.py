"""Bearer API keys and per-tenant rate limits for every /v1 route."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.datastructures import State

from reelgate.platform import repo
from reelgate.platform.errors import RateLimited, Unauthorized

# Keys found recently skip the database; a revoked key stops working within this many seconds.
KEY_CACHE_TTL_S = 30.0
KEY_CACHE_MAX = 10_000
RATE_WINDOW_S = 60


class KeyCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[repo.TenantRow, float]] = {}

    def get(self, key: str) -> repo.TenantRow | None:
        entry = self._entries.get(key)
        if entry and entry[1] > time.monotonic():
            return entry[0]
        return None

    def put(self, key: str, tenant: repo.TenantRow) -> None:
        if len(self._entries) >= KEY_CACHE_MAX:
            self._entries.clear()
        self._entries[key] = (tenant, time.monotonic() + KEY_CACHE_TTL_S)


async def current_tenant(request: Request[Any, Any, Any], state: State) -> repo.TenantRow:
    """The tenant whose key is in `Authorization: Bearer <key>`; 401 otherwise, 429 over its limit."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized(
            "Send your API key in the header 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="reelgate"'},
        )
    cache: KeyCache = state.key_cache
    tenant = cache.get(key)
    if tenant is None:
        async with state.pool.connection() as conn:
            tenant = await repo.tenant_for_key(conn, key)
        if tenant is None:
            raise Unauthorized(
                "The API key is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        cache.put(key, tenant)
    await rate_limit(state, tenant)
    request.scope["state"]["tenant"] = tenant.name
    return tenant


async def rate_limit(state: State, tenant: repo.TenantRow) -> None:
    """A fixed window per tenant in Valkey. The router is everyone's client address, so the
    limit keys on the tenant; when Valkey cannot answer, the request goes through (fail open)."""
    limit = tenant.rate_limit_per_minute
    if limit is None:
        limit = state.settings.rate_limit_per_minute
    if limit <= 0:
        return
    window = int(time.time() // RATE_WINDOW_S)
    count = await state.kv.hit(f"reelgate:rate:{tenant.id}:{window}", RATE_WINDOW_S)
    if count is not None and count > limit:
        retry_after = RATE_WINDOW_S - int(time.time() % RATE_WINDOW_S)
        raise RateLimited(
            f"This tenant may make {limit} requests a minute; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
