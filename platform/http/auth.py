"""Bearer API keys and per-tenant rate limits for every /v1 route."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.datastructures import State

from reelgate.platform import repo
from reelgate.platform.infra.db import connection
from reelgate.platform.infra.errors import RateLimited, Unauthorized

# Keys found recently skip the database for this long (revocations clear the cache sooner).
KEY_CACHE_TTL_S = 30.0
KEY_CACHE_MAX = 10_000
RATE_WINDOW_S = 60
KEYS_CHANNEL = "reelgate:keys"
"""`reelgate tenant key revoke` publishes here; every API process then drops its key cache."""


class KeyCache:
    """Keys (and page sessions) found recently, so that not every request asks PostgreSQL.

    Trusted only while this process hears revocations (`KEYS_CHANNEL` on Valkey, through
    `VideoCache.listen`): a revoked key is then refused within a second. While the listener is
    down (Valkey down), every check goes to PostgreSQL, so a revocation takes effect at once.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[repo.TenantRow, float]] = {}
        self.trusted = False

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: str) -> repo.TenantRow | None:
        if not self.trusted:
            return None
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
        client = client_address(request)
        await refuse_if_throttled(state, client, key)
        async with connection(state.pool) as conn:
            tenant = await repo.tenant_for_key(conn, key)
            if tenant is None:
                await repo.record(conn, "auth.failed", actor=key_label(key), address=client, via="api")
        if tenant is None:
            await count_failure(state, client, key)
            raise Unauthorized(
                "The API key is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        cache.put(key, tenant)
    await rate_limit(state, tenant)
    request.scope["state"]["tenant"] = tenant.name
    request.scope["state"]["actor"] = key_label(key)
    return tenant


def key_label(key: str) -> str:
    """How the audit log names a key: its public prefix, printable (a typed or fuzzed key may hold
    anything, a NUL included, which PostgreSQL text refuses)."""
    return "key:" + "".join(c if c.isprintable() else "?" for c in key[:8])


def who(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The audit log's actor and address for this request (the key prefix, or the page session)."""
    return {"actor": request.scope.get("state", {}).get("actor", "unknown"), "address": client_address(request)}


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


# -- failed authentication ----------------------------------------------------------------------------
# Keys are 256-bit random, so guessing one is hopeless; the throttle keeps a brute force from loading
# the database and the logs. It counts failures per client address (the router passes it on in
# X-Forwarded-For) and per key prefix (the first 8 characters, so one attacker on many addresses
# aiming at one key is slowed as well), in the same fixed one-minute windows as the tenant limit.


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _failure_keys(state: State, client: str, key: str) -> list[tuple[str, str]]:
    window = int(time.time() // RATE_WINDOW_S)
    counters = [(f"reelgate:authfail:prefix:{key[:8]}:{window}", "keys starting with these characters")]
    if client not in state.settings.failed_auth_exempt:
        counters.append((f"reelgate:authfail:addr:{client}:{window}", "this address"))
    return counters


async def refuse_if_throttled(state: State, client: str, key: str) -> None:
    """429 when `client` or `key`'s prefix already failed `failed_auth_per_minute` times this minute
    (the database is not asked). Fails open when Valkey cannot answer."""
    limit = state.settings.failed_auth_per_minute
    if limit <= 0:
        return
    for counter, what in _failure_keys(state, client, key):
        raw = await state.kv.get(counter)
        if raw is not None and int(raw) >= limit:
            retry_after = RATE_WINDOW_S - int(time.time() % RATE_WINDOW_S)
            raise RateLimited(
                f"Too many failed attempts to authenticate from {what}; try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )


async def count_failure(state: State, client: str, key: str) -> None:
    if state.settings.failed_auth_per_minute > 0:
        for counter, _ in _failure_keys(state, client, key):
            await state.kv.hit(counter, RATE_WINDOW_S)
