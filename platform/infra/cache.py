"""The video read cache: a small in-process level in front of Valkey.

Every state change publishes on Valkey (the worker's progress events, the
API's own updates on `reelgate:invalidate`); each API process listens and
drops its copy at once. The in-process copy also expires after `L1_TTL_S`,
which bounds staleness when pub/sub itself is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from reelgate.platform.http.auth import KEYS_CHANNEL, KeyCache
from reelgate.platform.infra.kv import KV, video_channel, video_key

log = logging.getLogger("reelgate.platform.infra.cache")

L1_TTL_S = 1.0
L1_MAX = 10_000
INVALIDATE_CHANNEL = "reelgate:invalidate"
EVENTS_PATTERN = video_channel("*")


class VideoCache:
    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self._local: dict[str, tuple[str, bytes, float]] = {}  # video id -> (tenant id, body, expires)

    async def get(self, tenant_id: str, video_id: str) -> bytes | None:
        entry = self._local.get(video_id)
        if entry and entry[0] == tenant_id and entry[2] > time.monotonic():
            return entry[1]
        body = await self.kv.get(video_key(tenant_id, video_id))
        if body is not None:
            self._remember(tenant_id, video_id, body)
        return body

    async def set(self, tenant_id: str, video_id: str, body: bytes) -> None:
        self._remember(tenant_id, video_id, body)
        await self.kv.set(video_key(tenant_id, video_id), body)

    async def invalidate(self, tenant_id: str, video_id: str) -> None:
        self._local.pop(video_id, None)
        await self.kv.delete(video_key(tenant_id, video_id))
        await self.kv.publish(INVALIDATE_CHANNEL, video_id.encode())

    def _remember(self, tenant_id: str, video_id: str, body: bytes) -> None:
        if len(self._local) >= L1_MAX:
            self._local.clear()
        self._local[video_id] = (tenant_id, body, time.monotonic() + L1_TTL_S)

    def _evict(self, channel: str, data: bytes) -> None:
        video_id = data.decode() if channel == INVALIDATE_CHANNEL else channel.rsplit(":", 1)[-1]
        self._local.pop(video_id, None)

    async def listen(self, keys: KeyCache | None = None) -> None:
        """Drop local copies as changes are announced, and `keys` when a key is revoked; reconnects
        until cancelled. `keys` is trusted only while this listener is subscribed."""
        while True:
            pubsub = self.kv.pubsub()
            try:
                await pubsub.subscribe(INVALIDATE_CHANNEL, KEYS_CHANNEL)
                await pubsub.psubscribe(EVENTS_PATTERN)
                if keys is not None:
                    keys.trusted = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message and message["type"] in ("message", "pmessage"):
                        channel = message["channel"]
                        channel = channel.decode() if isinstance(channel, bytes) else channel
                        if channel == KEYS_CHANNEL and keys is not None:
                            keys.clear()
                        else:
                            self._evict(channel, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Valkey down: the TTL bounds staleness; try again shortly
                log.debug("cache invalidation listener: %s", exc)
                self._local.clear()
                if keys is not None:  # revocations cannot reach us: ask PostgreSQL every time
                    keys.trusted = False
                    keys.clear()
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
