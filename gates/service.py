"""`reelgate gate serve`: the engine as a service a controller calls (the first slice of issue 22).

A run is keyed by (namespace, name, revision), the key Argo Rollouts, Flagger and Kargo ask with. `POST /v1/runs`
creates it, or attaches to the one that exists, atomically in PostgreSQL (an `INSERT ... ON CONFLICT DO
NOTHING`): two controller replicas or a retried request never start two runs. The run's gates go on in this
process whatever happens to the request that started it; every answer comes back at once, and the caller polls
`GET /v1/runs/{namespace}/{name}/{revision}` until `state` is `finished`, then reads `verdict` (`promote` or
`block`) and `reason`. A finished verdict stays: asking again returns it, and `rerun: true` asks for a new one.

What this slice does not do yet (docs/gate-service.md): tokens, the controllers' own request and answer shapes,
remote candidates for gates that act on local processes, expiry, metrics.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar import Litestar, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.status_codes import HTTP_202_ACCEPTED
from psycopg.types.json import Jsonb

from reelgate.gates.decision import decide
from reelgate.gates.model import Check
from reelgate.gates.policy import LoadedPolicy
from reelgate.gates.runner import Runner, RunOptions
from reelgate.gates.store import Store

log = logging.getLogger("reelgate.gates.service")


class RunRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    namespace: str
    name: str
    revision: str
    """The key of the run: what is being released, where, at which revision."""
    candidate_url: str
    """Where the candidate answers, for the gates that measure a URL."""
    live_url: str | None = None
    """Where the live version answers, for checks with `baseline: live`."""
    rerun: bool = False
    """Judge the revision again even if a verdict is kept (an explicit request, never a retry's side effect)."""


class RunAnswer(msgspec.Struct, kw_only=True):
    namespace: str
    name: str
    revision: str
    state: Literal["running", "finished"]
    verdict: Literal["promote", "block"] | None
    reason: str
    checks: list[Check] = []
    """Every gate's checks, named `<gate>.<check>`, once the run is finished."""


def _answer(row: dict[str, Any]) -> RunAnswer:
    checks = [
        msgspec.structs.replace(msgspec.convert(c, Check), name=f"{r['gate']}.{c['name']}")
        for r in row.get("results") or []
        for c in r.get("checks", [])
    ]
    return RunAnswer(
        namespace=row["namespace"],
        name=row["name"],
        revision=row["revision"],
        state=row["state"],
        verdict=row["verdict"],
        reason=row["reason"],
        checks=checks,
    )


class RunStore:
    """The runs table, through the engine's store connection (one statement at a time, from threads)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = asyncio.Lock()

    async def _execute(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self.lock:  # one connection: one statement at a time
            row: dict[str, Any] | None = await asyncio.to_thread(lambda: self.store.conn.execute(sql, args).fetchone())
            return row

    async def create(self, request: RunRequest) -> bool:
        """True when this call made the run (and so must start it); False when it exists."""
        key = (request.namespace, request.name, request.revision)
        if request.rerun:
            restarted = await self._execute(
                "UPDATE reelgate_gates.runs SET state = 'running', verdict = NULL, reason = 'running again',"
                " results = NULL, candidate_url = %s, created_at = now(), finished_at = NULL"
                " WHERE namespace = %s AND name = %s AND revision = %s AND state = 'finished' RETURNING namespace",
                (request.candidate_url, *key),
            )
            if restarted is not None:
                return True
        made = await self._execute(
            "INSERT INTO reelgate_gates.runs (namespace, name, revision, state, reason, candidate_url)"
            " VALUES (%s, %s, %s, 'running', 'running the gates', %s) ON CONFLICT DO NOTHING RETURNING namespace",
            (*key, request.candidate_url),
        )
        return made is not None

    async def get(self, namespace: str, name: str, revision: str) -> dict[str, Any] | None:
        return await self._execute(
            "SELECT * FROM reelgate_gates.runs WHERE namespace = %s AND name = %s AND revision = %s",
            (namespace, name, revision),
        )

    async def finish(self, request: RunRequest, verdict: str, reason: str, results: Any) -> None:
        await self._execute(
            "UPDATE reelgate_gates.runs SET state = 'finished', verdict = %s, reason = %s, results = %s,"
            " finished_at = now() WHERE namespace = %s AND name = %s AND revision = %s RETURNING namespace",
            (verdict, reason, Jsonb(results), request.namespace, request.name, request.revision),
        )


class GateService:
    def __init__(self, loaded: LoadedPolicy, gate_types: dict[str, type[Any]], store: Store, workdir: Path) -> None:
        self.loaded, self.gate_types, self.runs, self.workdir = loaded, gate_types, RunStore(store), workdir
        self.tasks: set[asyncio.Task[None]] = set()

    async def judge(self, request: RunRequest) -> None:
        """Run the policy's pre-promotion gates against the candidate and keep the verdict; a crash is a
        `block` naming it, never a run left `running`."""
        folder = self.workdir / request.namespace / request.name / request.revision
        folder.mkdir(parents=True, exist_ok=True)
        options = RunOptions(target=request.candidate_url, workdir=folder, baseline_url=request.live_url)
        try:
            results = await Runner(self.loaded, self.gate_types, options).run("pre")
            decision = decide(results)
            await self.runs.finish(request, decision.outcome, decision.reason, msgspec.to_builtins(results))
        except Exception as exc:  # the verdict must land whatever broke
            log.exception("run %s/%s/%s crashed", request.namespace, request.name, request.revision)
            await self.runs.finish(request, "block", f"the run crashed: {type(exc).__name__}: {exc}", [])

    async def start(self, request: RunRequest) -> RunAnswer:
        if await self.runs.create(request):
            task = asyncio.create_task(self.judge(request))
            self.tasks.add(task)  # kept until done: the run never depends on the request that started it
            task.add_done_callback(self.tasks.discard)
        row = await self.runs.get(request.namespace, request.name, request.revision)
        assert row is not None
        return _answer(row)


@post("/v1/runs", status_code=HTTP_202_ACCEPTED)
async def create_run(data: RunRequest, state: State) -> RunAnswer:
    """Start the run of (namespace, name, revision), or attach to the one that exists; answers at once."""
    service: GateService = state.service
    return await service.start(data)


@get("/v1/runs/{namespace:str}/{name:str}/{revision:str}")
async def read_run(namespace: str, name: str, revision: str, state: State) -> RunAnswer:
    """Where the run stands: `running`, or `finished` with its verdict, reason and checks."""
    service: GateService = state.service
    row = await service.runs.get(namespace, name, revision)
    if row is None:
        raise NotFoundException(f"no run of {namespace}/{name} at {revision}")
    return _answer(row)


def create_app(service: GateService) -> Litestar:
    return Litestar(route_handlers=[create_run, read_run], state=State({"service": service}))
