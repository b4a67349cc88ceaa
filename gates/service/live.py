"""Pages that stay live: a page is rendered in parts, and the same parts travel as server-sent events while what
it shows changes, or to a poll where a proxy holds the stream back. The page's script
(`static/dashboard.js`) swaps a part only when its hash changed, so a form being filled in keeps its focus.

A stream sends `X-Accel-Buffering: no` (nginx then passes each event on at once, through gzip too), an event at
once and a `ping` every 10 s; a browser that hears nothing for 25 s falls back to polling. A stream ends after
5 minutes and the browser opens another, so a session that ended stops being served."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.response import ServerSentEvent, ServerSentEventMessage

from reelgate.gates.service.engine import Refused

STREAM_SECONDS = 300.0
PING_EVERY = 10.0
CHECK_EVERY = 1.0

Version = Callable[[], Awaitable[tuple[str, bool] | None]]
"""A short fingerprint of what the page shows (cheap: no rendering) and whether it can still change; None when
the thing shown is gone."""
Parts = Callable[[], Awaitable[dict[str, str]]]
"""Each live part's HTML, by the id of its element."""


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:16]


def hashed(parts: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"html": html, "hash": fingerprint(html)} for name, html in parts.items()}


async def poll(request: Request[Any, Any, Any], version: Version, parts: Parts) -> Response[Any]:
    """The polling fallback: the parts, or 204 when nothing changed since `?known=`."""
    seen = await version()
    if seen is None:
        raise Refused(404, "it is gone")
    if request.query_params.get("known") == seen[0]:
        return Response(b"", status_code=204, headers={"Cache-Control": "no-store"})
    body = {"version": seen[0], "final": seen[1], "parts": hashed(await parts())}
    return Response(body, headers={"Cache-Control": "no-store"})


def stream(request: Request[Any, Any, Any], version: Version, parts: Parts) -> ServerSentEvent:
    """`update` events with the parts whenever the version moves (the last one has `final: true`), `ping`
    events in between."""
    since = request.headers.get("last-event-id") or request.query_params.get("known", "")  # a reconnect sends its last

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        last, quiet_since, ends = since, time.monotonic(), time.monotonic() + STREAM_SECONDS
        yield ServerSentEventMessage(event="ping", data="{}", retry=3000)
        while time.monotonic() < ends:
            seen = await version()
            if seen is None:
                yield ServerSentEventMessage(event="gone", data="{}")
                return
            if seen[0] != last or seen[1]:
                body = {"version": seen[0], "final": seen[1]}
                if seen[0] != last:
                    body["parts"] = hashed(await parts())
                yield ServerSentEventMessage(event="update", data=json.dumps(body), id=seen[0])
                if seen[1]:
                    return
                last, quiet_since = seen[0], time.monotonic()
            elif time.monotonic() - quiet_since >= PING_EVERY:
                yield ServerSentEventMessage(event="ping", data="{}")
                quiet_since = time.monotonic()
            await asyncio.sleep(CHECK_EVERY)

    return ServerSentEvent(events(), headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
