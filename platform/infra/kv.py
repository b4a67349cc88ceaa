"""Valkey (or Redis 7) for the read cache, progress pub/sub and rate limits.

Valkey is an accelerator, never the source of truth: every call times out
within `valkey_timeout_s`, and on any failure the caller carries on as if
the cache missed (reads fall back to PostgreSQL, rate limits fail open).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import valkey.asyncio as valkey_async
from valkey.exceptions import ValkeyError

log = logging.getLogger("reelgate.platform.infra.kv")

CACHE_TTL_S = 60
# After a failure, skip Valkey for a moment so a dead server costs one timeout, not one per request.
BACKOFF_S = 2.0


class KV:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.client = valkey_async.Valkey.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=0
        )
        self._down_until = 0.0

    async def close(self) -> None:
        await self.client.aclose()

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: BaseException) -> None:
        if self._available():
            log.warning("valkey %s failed (%s: %s); carrying on without it", what, type(exc).__name__, exc)
        self._down_until = time.monotonic() + BACKOFF_S

    async def get(self, key: str) -> bytes | None:
        if not self._available():
            return None
        try:
            return await self.client.get(key)
        except (ValkeyError, OSError, TimeoutError) as exc:
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: bytes, ttl_s: int = CACHE_TTL_S) -> None:
        if not self._available():
            return
        try:
            await self.client.set(key, value, ex=ttl_s)
        except (ValkeyError, OSError, TimeoutError) as exc:
            self._failed("set", exc)

    async def delete(self, *keys: str) -> None:
        try:
            await self.client.delete(*keys)
        except (ValkeyError, OSError, TimeoutError) as exc:
            self._failed("delete", exc)

    async def publish(self, channel: str, message: bytes) -> None:
        if not self._available():
            return
        try:
            await self.client.publish(channel, message)
        except (ValkeyError, OSError, TimeoutError) as exc:
            self._failed("publish", exc)

    async def hit(self, key: str, window_s: int) -> int | None:
        """Count one request in a fixed window; None when Valkey cannot say (fail open)."""
        if not self._available():
            return None
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window_s + 1, nx=True)
            count, _ = await pipe.execute()
            return int(count)
        except (ValkeyError, OSError, TimeoutError) as exc:
            self._failed("rate limit", exc)
            return None

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (ValkeyError, OSError, TimeoutError):
            return False

    def pubsub(self) -> Any:
        return self.client.pubsub()


def video_key(tenant_id: str, video_id: str) -> str:
    """The cached resource; the tenant is part of the key so a cache hit never crosses tenants."""
    return f"reelgate:video:{tenant_id}:{video_id}"


def video_channel(video_id: str) -> str:
    return f"reelgate:events:{video_id}"
