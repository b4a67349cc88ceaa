"""A run of the gate service: what a controller asks for, what it is answered, and the runs table.

A run is keyed by (namespace, name, revision), the key Argo Rollouts, Flagger and Kargo ask with. It is made, or
attached to, atomically in PostgreSQL (`INSERT ... ON CONFLICT DO NOTHING`), so two controller replicas or a
retried request never start two runs. Every read is also a poll: it stamps `polled_at`, and a running run
nobody polls expires (state `expired`, no verdict, nothing else done) and stays readable.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from reelgate.gates.model import Check

Key = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")]
"""A namespace, name or revision: also a folder name for the run's artefacts, so no `/` and no `..`."""
OptionalKey = Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,252})?$")]
"""A name, or "" for none."""
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+")]
OptionalUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?://[^\s/]+.*)?$")]
"""A URL or "" for none (an Argo Rollouts argument always has a value)."""
Source = Literal["api", "argo", "kargo", "flagger", "cli"]
State = Literal["running", "finished", "expired"]

OWNER = f"{socket.gethostname()}:{os.getpid()}"
"""This process, as the owner of the runs it executes (a run whose owner stops beating is lost)."""


class RunRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    namespace: Key
    name: Key
    revision: Key
    """The key of the run: what is being released, where, at which revision."""
    candidate_url: Url
    """Where the candidate answers, for the gates that measure a URL."""
    live_url: OptionalUrl | None = None
    """Where the live version answers, for checks with `baseline: live`."""
    commit: str | None = None
    """The candidate's commit: the gates that read the source (coverage, bandit) get a checkout of it (and a
    build, for those that run its tests) through the policy's deployer."""
    live_commit: str | None = None
    """The commit live runs, for coverage's `diff_against: live` (the lines changed since)."""
    api_key_secret: OptionalKey | None = None
    """The name of a secret the service holds (a file in its `--secrets` folder) with the candidate's API
    key, for the gates that call the API as a tenant; the key itself never travels in a request."""
    source: Source = "api"
    """Who asks (the controller's name), for `release history` and the metrics."""
    rerun: bool = False
    """Judge the revision again even if a verdict is kept (an explicit request, never a retry's side effect)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.name, self.revision)


class RunView(msgspec.Struct, kw_only=True):
    """The run at a fixed path (`$.run`) of every answer, small enough for Argo's measurement value."""

    namespace: str
    name: str
    revision: str
    source: str
    state: State
    verdict: Literal["promote", "block"] | None
    """Set once `state` is `finished`; Argo's and Kargo's conditions test it."""
    reason: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float
    """How long the run took, or has taken so far."""
    report: str | None
    """The HTML report's path on this service, once the run is finished."""


class RunAnswer(msgspec.Struct, kw_only=True):
    run: RunView
    checks: list[Check] = []
    """Every gate's checks, named `<gate>.<check>`, once the run is finished."""


def answer(row: dict[str, Any], now: datetime) -> RunAnswer:
    checks = [
        msgspec.structs.replace(msgspec.convert(c, Check), name=f"{r['gate']}.{c['name']}")
        for r in row.get("results") or []
        for c in r.get("checks", [])
    ]
    ended = row["finished_at"]
    path = f"/v1/runs/{row['namespace']}/{row['name']}/{row['revision']}"
    view = RunView(
        namespace=row["namespace"],
        name=row["name"],
        revision=row["revision"],
        source=row["source"],
        state=row["state"],
        verdict=row["verdict"],
        reason=row["reason"],
        started_at=row["created_at"],
        finished_at=ended,
        seconds=round(((ended or now) - row["created_at"]).total_seconds(), 1),
        report=f"{path}/report" if row["state"] == "finished" else None,
    )
    return RunAnswer(run=view, checks=checks)


class RunStore:
    """The runs table, through a pool of async connections: a poll never waits behind another."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, args)
            return await cur.fetchone() if cur.description else None

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, args)
            return await cur.fetchall()

    async def create(self, request: RunRequest, started_by: str) -> bool:
        """True when this call made the run (and so must start it); False when it exists."""
        fields = (request.candidate_url, request.live_url, request.commit, request.source, started_by, OWNER)
        if request.rerun:
            restarted = await self._one(
                "UPDATE reelgate_gates.runs SET state = 'running', verdict = NULL, reason = 'running again',"
                " results = NULL, candidate_url = %s, live_url = %s, commit_sha = %s, source = %s, started_by = %s,"
                " owner = %s, created_at = now(), finished_at = NULL, polled_at = now(), beat_at = now()"
                " WHERE namespace = %s AND name = %s AND revision = %s AND state <> 'running' RETURNING namespace",
                (*fields, *request.key),
            )
            if restarted is not None:
                return True
        made = await self._one(
            "INSERT INTO reelgate_gates.runs (namespace, name, revision, state, reason,"
            " candidate_url, live_url, commit_sha, source, started_by, owner)"
            " VALUES (%s, %s, %s, 'running', 'running the gates', %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING namespace",
            (*request.key, *fields),
        )
        return made is not None

    async def poll(self, namespace: str, name: str, revision: str) -> dict[str, Any] | None:
        """The run, stamped as asked about now (what keeps a running run from expiring)."""
        return await self._one(
            "UPDATE reelgate_gates.runs SET polled_at = now()"
            " WHERE namespace = %s AND name = %s AND revision = %s RETURNING *, now() AS now",
            (namespace, name, revision),
        )

    async def read(self, namespace: str, name: str, revision: str) -> dict[str, Any] | None:
        """The run as it is, for a person reading it (which does not keep it from expiring)."""
        return await self._one(
            "SELECT *, now() AS now FROM reelgate_gates.runs WHERE namespace = %s AND name = %s AND revision = %s",
            (namespace, name, revision),
        )

    async def finish(self, key: tuple[str, str, str], verdict: str, reason: str, results: Any) -> bool:
        """Keep the verdict, unless the run expired meanwhile (an expired run stays as it was)."""
        done = await self._one(
            "UPDATE reelgate_gates.runs SET state = 'finished', verdict = %s, reason = %s, results = %s,"
            " finished_at = now() WHERE namespace = %s AND name = %s AND revision = %s AND state = 'running'"
            " AND owner = %s RETURNING namespace",
            (verdict, reason, Jsonb(results), *key, OWNER),
        )
        return done is not None

    async def sweep(self, expire_after: float, lost_after: float) -> list[dict[str, Any]]:
        """Beat for this process's runs, then expire every running run nobody polled for `expire_after` s
        and every run whose process stopped beating `lost_after` s ago. Returns the runs expired (key and source)."""
        await self._one(
            "UPDATE reelgate_gates.runs SET beat_at = now() WHERE state = 'running' AND owner = %s", (OWNER,)
        )
        return await self._all(
            "UPDATE reelgate_gates.runs SET state = 'expired', finished_at = now(), reason = CASE"
            "   WHEN beat_at < now() - make_interval(secs => %s)"
            "   THEN 'lost: the gate service running it (' || owner || ') stopped; ask again with rerun'"
            "   ELSE 'expired: nobody asked about it for ' || %s || ' s; ask again with rerun' END"
            " WHERE state = 'running' AND (polled_at < now() - make_interval(secs => %s)"
            "   OR beat_at < now() - make_interval(secs => %s)) RETURNING namespace, name, revision, source",
            (lost_after, round(expire_after), expire_after, lost_after),
        )

    async def abandon(self) -> int:
        """This process stops: its running runs end `expired` now (no verdict), not after the lost delay."""
        rows = await self._all(
            "UPDATE reelgate_gates.runs SET state = 'expired', finished_at = now(),"
            " reason = 'lost: the gate service running it stopped; ask again with rerun'"
            " WHERE state = 'running' AND owner = %s RETURNING namespace",
            (OWNER,),
        )
        return len(rows)

    async def set_phase(self, key: tuple[str, str, str], phase: str) -> bool:
        """What the controller says happened after the verdict (Flagger's post-rollout phase)."""
        row = await self._one(
            "UPDATE reelgate_gates.runs SET controller_phase = %s"
            " WHERE namespace = %s AND name = %s AND revision = %s RETURNING namespace",
            (phase, *key),
        )
        return row is not None

    async def counts(self) -> dict[str, int]:
        rows = await self._all("SELECT state, count(*) AS n FROM reelgate_gates.runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}
