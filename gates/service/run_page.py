"""A gate service run on the dashboard: who asked (Argo Rollouts, Flagger, Kargo, the API), about which candidate
and revision, where it stands, its verdict with every gate's checks, findings and artefacts, and its report.
Reading it here does not count as a poll: a run nobody's controller asks about still expires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.response import File

from reelgate.gates.charts import timeline_chart
from reelgate.gates.model import GateResult
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.release_page import gate_lines
from reelgate.gates.service.runs import Key
from reelgate.gates.service.web import artefact, chart, page, reader

PATH = "/dashboard/runs/{namespace:str}/{name:str}/{revision:str}"


async def _run(state: State, namespace: str, name: str, revision: str) -> dict[str, Any]:
    try:  # the key names the run's folder: only what a request could have made it
        msgspec.convert((namespace, name, revision), tuple[Key, Key, Key])
    except msgspec.ValidationError:
        raise Refused(404, f"no run of {namespace}/{name} at {revision}") from None
    service: GateService = state.service
    row = await service.runs.read(namespace, name, revision)
    if row is None:
        raise Refused(404, f"no run of {namespace}/{name} at {revision}")
    return row


@get(PATH)
async def run_page(
    namespace: str, name: str, revision: str, request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    person = await reader(request, state)
    row = await _run(state, namespace, name, revision)
    service: GateService = state.service
    folder = service.folder((namespace, name, revision))
    prefix = f"/dashboard/runs/{namespace}/{name}/{revision}"
    results = msgspec.convert(row["results"] or [], list[GateResult])
    report = folder / "reports" / "report.html"
    return page(
        "run.html",
        person=person,
        run=row,
        seconds_so_far=((row["finished_at"] or datetime.now(UTC)) - row["created_at"]).total_seconds(),
        gates=gate_lines([], results, datetime.now(UTC), prefix, folder),
        timeline_chart=chart(timeline_chart(results, [])),
        report=f"{prefix}/files/reports/report.html" if report.is_file() else None,
    )


@get(PATH + "/files/{path:path}")
async def run_file(
    namespace: str, name: str, revision: str, path: str, request: Request[Any, Any, Any], state: State
) -> File:
    await reader(request, state)
    await _run(state, namespace, name, revision)
    service: GateService = state.service
    return artefact(service.folder((namespace, name, revision)), path)


ROUTES = [run_page, run_file]
