"""Bytes served per video, for the egress part of the cost estimate.

A write to PostgreSQL on every read would double the database's work under load, so the API adds
bytes up in memory and writes the sums every few seconds, and once more at shutdown. A killed API
process loses at most those few seconds of counts; the figure feeds an estimate, not a bill.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from reelgate.platform.infra.db import system_db

log = logging.getLogger("reelgate.platform.infra.egress")

FLUSH_EVERY_S = 5.0


class EgressMeter:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._counts: Counter[UUID] = Counter()

    def add(self, video_id: UUID, count: int) -> None:
        self._counts[video_id] += count

    async def flush(self) -> None:
        if not self._counts:
            return
        counts, self._counts = self._counts, Counter()
        try:
            async with system_db(self._pool) as conn:  # the meter counts for every tenant
                await conn.execute(
                    "UPDATE videos v SET egress_bytes = v.egress_bytes + c.n"
                    " FROM unnest(%s::uuid[], %s::bigint[]) AS c(id, n) WHERE v.id = c.id",
                    (list(counts), list(counts.values())),
                )
        except Exception as exc:  # PostgreSQL away: keep the counts for the next flush
            self._counts.update(counts)
            log.warning("egress counts not written yet: %s", exc)

    async def run(self) -> None:
        """Flush every few seconds until cancelled; the app flushes once more as it stops."""
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            await self.flush()
