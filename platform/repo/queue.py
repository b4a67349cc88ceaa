"""The job queue's table (procrastinate's): what the queue itself does not offer."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from reelgate.contract import stack as contract

queue_for = contract.queue_for


def move_waiting_jobs_sync(conn: Any, from_color: str, to_color: str) -> int:
    """Move `from_color`'s waiting jobs to `to_color`'s queue (a color stopping drains into the live one)."""
    return int(
        conn.execute(
            "UPDATE procrastinate_jobs SET queue_name = %s WHERE queue_name = %s AND status = 'todo'",
            (queue_for(to_color), queue_for(from_color)),
        ).rowcount
    )


async def queue_depths(conn: AsyncConnection[Any]) -> dict[tuple[str, str], int]:
    """Jobs waiting or running, by (queue, status)."""
    cur = await conn.execute(
        "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs"
        " WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
    )
    return {(queue, status): int(count) for queue, status, count in await cur.fetchall()}
