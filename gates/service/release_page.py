"""One release on the dashboard, live (`gates.service.live`): its facts, the actions open to the reader, each
gate as it runs (queued, running with the time so far, then its verdict, checks, findings and artefacts), the
watch's samples and the timeline chart; and its artefacts, read-only."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.response import File, ServerSentEvent
from markupsafe import Markup
from psycopg.rows import dict_row

from reelgate.contract import stack as contract
from reelgate.gates.charts import latency_chart, series_chart, timeline_chart, watch_chart
from reelgate.gates.model import GateResult
from reelgate.gates.service import live
from reelgate.gates.service.accounts import Person
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.live import Parts, Version, fingerprint, hashed
from reelgate.gates.service.web import artefact, chart, file_link, page, reader, records, render
from reelgate.gates.store import FINAL, TRANSITIONS, Release, StoreError

PARTS = ("facts", "actions", "gates", "watch", "timeline")
"""The page's live parts, each a template `_<part>.html` in an element `live-<part>`."""


class GateLine(msgspec.Struct, kw_only=True):
    """A planned gate where it stands: `queued`, `running` (for `elapsed` s), or done with its result."""

    phase: str
    gate: str
    uses: str
    required: bool
    status: str
    elapsed: float | None = None
    result: GateResult | None = None
    links: list[tuple[str, str]] = []
    """(name, dashboard link) of each artefact."""
    charts: Markup = Markup("")


def gate_lines(progress: list[dict[str, Any]], results: list[GateResult], now: datetime, prefix: str,
               folder: Path) -> list[GateLine]:  # fmt: skip
    """The planned gates in the policy's order with their results; a result without a plan (a release from
    before plans were kept) at the end of its phase."""
    done = {(r.phase, r.gate): r for r in results}
    lines = []
    for row in progress:
        result = done.pop((row["phase"], row["gate"]), None)
        started = row["started_at"]
        status: str
        if result is not None:
            status, elapsed = result.verdict, result.duration_s
        elif started is not None:
            status, elapsed = "running", (now - started).total_seconds()
        else:
            status, elapsed = "queued", None
        lines.append(GateLine(phase=row["phase"], gate=row["gate"], uses=row["uses"], required=row["required"],
                              status=status, elapsed=elapsed, result=result))  # fmt: skip
    for result in done.values():
        lines.append(GateLine(phase=result.phase, gate=result.gate, uses=result.uses, required=result.required,
                              status=result.verdict, elapsed=result.duration_s, result=result))  # fmt: skip
    for line in lines:
        if line.result is not None:
            line.links = [(a.rsplit("/", 1)[-1], file_link(folder, a, prefix) or "") for a in line.result.artifacts]
            line.charts = chart(latency_chart(line.result) + series_chart(line.result))
    return lines


def release_folder(state: State, release_id: str) -> Path:
    service: GateService = state.service
    return contract.release_dir(service.ctx.var, release_id)


async def context(state: State, release_id: str, person: Person) -> dict[str, Any]:
    """Everything the page's parts show, read in one go."""
    calls = records(state)
    try:
        release: Release = await calls.call("get", release_id)
    except StoreError as exc:
        raise Refused(404, str(exc)) from None
    results: list[GateResult] = await calls.call("results", release_id)
    timeline = await calls.call("timeline", release_id)
    progress = await calls.call("progress", release_id)
    switched = await calls.call("last_switched")
    folder = release_folder(state, release_id)
    prefix = f"/dashboard/releases/{release_id}"
    now = datetime.now(UTC)
    report = folder / "reports" / "report.html"
    samples = [e for e in timeline if e.detail is not None and e.kind.startswith("watch-")]
    return {
        "person": person,
        "release": release,
        "final": release.state in FINAL,
        "ended": not TRANSITIONS[release.state],
        "gates": gate_lines(progress, results, now, prefix, folder),
        "failing": [(r.gate, c.name) for r in results for c in r.checks if c.verdict == "fail"],
        "samples": samples,
        "watch_chart": chart(watch_chart([e.detail for e in samples if e.detail is not None])),
        "timeline": timeline,
        "timeline_chart": chart(timeline_chart(results, timeline)),
        "may_roll_back": switched is not None and switched.id == release_id and switched.state == "promoted",
        "report": f"{prefix}/files/reports/report.html" if report.is_file() else None,
        "prefix": prefix,
    }


def render_parts(ctx: dict[str, Any]) -> dict[str, str]:
    return {f"live-{name}": render(f"_{name}.html", **ctx) for name in PARTS}


VERSION_SQL = """
SELECT r.state, r.updated_at,
  (SELECT max(id) FROM reelgate_gates.events e WHERE e.release_id = r.id) AS event,
  (SELECT max(recorded_at) FROM reelgate_gates.results x WHERE x.release_id = r.id) AS result,
  (SELECT max(started_at) FROM reelgate_gates.progress p WHERE p.release_id = r.id) AS started,
  (SELECT count(*) FROM reelgate_gates.progress p WHERE p.release_id = r.id) AS planned,
  (SELECT count(*) FROM reelgate_gates.waivers w WHERE w.release_id = r.id OR w.release_id IS NULL) AS waivers
FROM reelgate_gates.releases r WHERE r.id = %s
"""


async def version(state: State, release_id: str) -> tuple[str, bool] | None:
    """A short fingerprint of what the page shows (one small query, no rendering), and whether nothing can
    move the release any more (a promoted one can still be rolled back); None when there is no such release.
    While gates run it also moves every 5 s, for their elapsed time."""
    service: GateService = state.service
    async with service.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(VERSION_SQL, (release_id,))
        row = await cur.fetchone()
    if row is None:
        return None
    tick = None if row["state"] in (*FINAL, "awaiting_approval") else int(time.time() // 5)
    return fingerprint([row, tick]), not TRANSITIONS[row["state"]]


def _live(state: State, release_id: str, person: Person) -> tuple[Version, Parts]:
    async def seen() -> tuple[str, bool] | None:
        return await version(state, release_id)

    async def parts() -> dict[str, str]:
        return render_parts(await context(state, release_id, person))

    return seen, parts


@get("/dashboard/releases/{release_id:str}")
async def release_page(release_id: str, request: Request[Any, Any, Any], state: State) -> Response[Any]:
    person = await reader(request, state)
    ctx = await context(state, release_id, person)
    seen = await version(state, release_id)
    return page("release.html", parts=hashed(render_parts(ctx)), version=seen[0] if seen else "", **ctx)


@get("/dashboard/releases/{release_id:str}/live")
async def release_live(release_id: str, request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """The polling fallback."""
    return await live.poll(request, *_live(state, release_id, await reader(request, state)))


@get("/dashboard/releases/{release_id:str}/events")
async def release_events(release_id: str, request: Request[Any, Any, Any], state: State) -> ServerSentEvent:
    """The page's parts as server-sent events while the release moves."""
    return live.stream(request, *_live(state, release_id, await reader(request, state)))


@get("/dashboard/releases/{release_id:str}/files/{path:path}")
async def release_file(release_id: str, path: str, request: Request[Any, Any, Any], state: State) -> File:
    """An artefact of the release (a gate's output, the reports), read-only, for anyone signed in."""
    await reader(request, state)
    if "/" in release_id or release_id.startswith("."):
        raise Refused(404, f"there is no release {release_id}")
    return artefact(release_folder(state, release_id), path)


ROUTES = [release_page, release_live, release_events, release_file]
