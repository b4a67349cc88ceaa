"""The engine's records in PostgreSQL (schema `reelgate_gates`): releases and their state machine,
the timeline, gate results, waivers and the live color."""

from __future__ import annotations

import getpass
import os
import socket
import zlib
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from yoyo import get_backend, read_migrations

from reelgate.gates.api import Deployment
from reelgate.gates.decision import Waiver
from reelgate.gates.model import Decision, Event, GateResult

FINAL = ("promoted", "blocked", "rolled_back", "aborted")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("deploying", "aborted"),
    "deploying": ("gating", "blocked", "aborted"),
    "gating": ("awaiting_approval", "switching", "blocked", "aborted"),
    "awaiting_approval": ("switching", "aborted"),
    "switching": ("watching", "rolled_back", "aborted"),
    "watching": ("promoted", "rolled_back"),
    "promoted": ("rolled_back",),
    "blocked": (),
    "rolled_back": (),
    "aborted": (),
}


class StoreError(Exception):
    """The records say no: a release is already running, a transition is not allowed, ..."""


class Release(msgspec.Struct, kw_only=True):
    id: str
    candidate: str
    commit_sha: str | None
    policy_name: str
    policy_file: str
    state: str
    live_before: str
    candidate_color: str
    candidate_url: str | None
    decision: Decision | None
    build_dir: str | None
    build_before: str | None = None
    deployment: Deployment | None = None
    policy_text: str | None = None
    """The policy file as the release started (None for releases made before it was kept)."""
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class HistoryLine(msgspec.Struct, kw_only=True):
    """One line of `release history`: a release or a gate service run."""

    started: datetime
    finished: datetime | None
    source: str
    id: str
    state: str
    candidate: str
    by: str
    reason: str
    path: str = ""
    """Its page under /dashboard/: `releases/<id>` or `runs/<namespace>/<name>/<revision>`."""


def actor() -> str:
    return os.environ.get("REELGATE_ACTOR") or getpass.getuser()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5, row_factory=dict_row)

    def close(self) -> None:
        self.conn.close()

    def migrate(self) -> None:
        scheme, rest = self.url.split("://", 1)
        backend = get_backend(f"postgresql+psycopg://{rest}" if scheme.startswith("postgres") else self.url)
        with resources.as_file(resources.files("reelgate.gates.migrations")) as folder:
            migrations = read_migrations(str(folder))
            with backend.lock():
                backend.apply_migrations(backend.to_apply(migrations))

    # -- releases -------------------------------------------------------------------

    def create(
        self,
        release_id: str,
        candidate: str,
        policy_name: str,
        policy_file: str,
        live_before: str,
        candidate_color: str,
        policy_text: str | None = None,
    ) -> Release:
        try:
            self.conn.execute(
                "INSERT INTO reelgate_gates.releases (id, candidate, policy_name, policy_file, state, live_before,"
                " candidate_color, created_by, policy_text) VALUES (%s, %s, %s, %s, 'planned', %s, %s, %s, %s)",
                (release_id, candidate, policy_name, policy_file, live_before, candidate_color, actor(), policy_text),
            )
        except psycopg.errors.UniqueViolation:
            active = self.active()
            raise StoreError(
                f"release {active.id if active else '?'} ({active.state if active else '?'}) is "
                "still running: one release at a time"
            ) from None
        self.event(release_id, "planned", f"release of {candidate} planned with policy {policy_name}")
        return self.get(release_id)

    def _row(self, row: dict[str, Any] | None) -> Release | None:
        if row is None:
            return None
        row = dict(row)
        row["decision"] = msgspec.convert(row["decision"], Decision) if row["decision"] else None
        row["deployment"] = msgspec.convert(row["deployment"], Deployment) if row.get("deployment") else None
        return msgspec.convert(row, Release)

    def get(self, release_id: str) -> Release:
        found = self._row(
            self.conn.execute("SELECT * FROM reelgate_gates.releases WHERE id = %s", (release_id,)).fetchone()
        )
        if found is None:
            raise StoreError(f"there is no release {release_id}")
        return found

    def active(self) -> Release | None:
        return self._row(
            self.conn.execute("SELECT * FROM reelgate_gates.releases WHERE state <> ALL(%s)", (list(FINAL),)).fetchone()
        )

    def build_before(self, release_id: str) -> str | None:
        """The build the live color ran before this release (what a rollback restarts)."""
        row = self.conn.execute(
            "SELECT build_before FROM reelgate_gates.releases WHERE id = %s", (release_id,)
        ).fetchone()
        return row["build_before"] if row else None

    def last_switched(self) -> Release | None:
        """The newest release that moved traffic (promoted, or already rolled back after a switch)."""
        return self._row(
            self.conn.execute(
                "SELECT * FROM reelgate_gates.releases r WHERE state = 'promoted' OR (state = 'rolled_back' AND"
                " EXISTS (SELECT 1 FROM reelgate_gates.events e WHERE e.release_id = r.id AND e.kind = 'watching'))"
                " ORDER BY updated_at DESC LIMIT 1"
            ).fetchone()
        )

    def latest(self) -> Release | None:
        return self._row(
            self.conn.execute("SELECT * FROM reelgate_gates.releases ORDER BY created_at DESC LIMIT 1").fetchone()
        )

    def history_with_runs(
        self,
        limit: int = 20,
        offset: int = 0,
        state: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[HistoryLine], int]:
        """Releases (source `cli`) and the gate service's runs (source: who asked), newest first, in one list,
        filtered by state and start time; with the count of all that match (for pages of them)."""
        where = " WHERE (%(state)s::text IS NULL OR state = %(state)s)" + (
            " AND (%(since)s::timestamptz IS NULL OR started >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR started < %(until)s)"
        )
        union = (
            "SELECT * FROM ("
            " SELECT created_at AS started, finished_at AS finished, 'cli' AS source, id, state, candidate,"
            "  created_by AS by, coalesce(decision->>'reason', '') AS reason, 'releases/' || id AS path"
            " FROM reelgate_gates.releases"
            " UNION ALL"
            " SELECT created_at, finished_at, source, namespace || '/' || name || '@' || left(revision, 12),"
            "  CASE verdict WHEN 'promote' THEN 'promoted' WHEN 'block' THEN 'blocked' ELSE state END,"
            "  candidate_url, started_by, reason, 'runs/' || namespace || '/' || name || '/' || revision"
            " FROM reelgate_gates.runs"
            ") AS h" + where
        )
        args = {"state": state, "since": since, "until": until, "limit": limit, "offset": offset}
        rows = self.conn.execute(union + " ORDER BY started DESC LIMIT %(limit)s OFFSET %(offset)s", args).fetchall()
        total = self.conn.execute("SELECT count(*) AS n FROM (" + union + ") AS c", args).fetchone()
        return [msgspec.convert(dict(row), HistoryLine) for row in rows], int(total["n"] if total else 0)

    def update(self, release_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{name} = %s" for name in fields)
        values = [Jsonb(msgspec.to_builtins(v)) if isinstance(v, msgspec.Struct) else v for v in fields.values()]
        self.conn.execute(
            f"UPDATE reelgate_gates.releases SET {sets}, updated_at = now() WHERE id = %s", (*values, release_id)
        )

    def transition(self, release_id: str, to: str, message: str, who: str = "reelgate") -> None:
        """Move the state machine one step; a move it does not allow is a StoreError."""
        with self.conn.transaction():
            row = self.conn.execute(
                "SELECT state FROM reelgate_gates.releases WHERE id = %s FOR UPDATE", (release_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"there is no release {release_id}")
            if to not in TRANSITIONS[row["state"]]:
                raise StoreError(f"release {release_id} is {row['state']}; it cannot become {to}")
            self.conn.execute(
                "UPDATE reelgate_gates.releases SET state = %s, updated_at = now(),"
                " finished_at = CASE WHEN %s THEN now() ELSE finished_at END WHERE id = %s",
                (to, to in FINAL, release_id),
            )
            self.event(release_id, to, message, who)

    # -- timeline, results, waivers -----------------------------------------------------

    def event(
        self, release_id: str, kind: str, message: str, who: str = "reelgate", detail: dict[str, Any] | None = None
    ) -> None:
        self.conn.execute(
            "INSERT INTO reelgate_gates.events (release_id, kind, message, actor, detail) VALUES (%s, %s, %s, %s, %s)",
            (release_id, kind, message, who, Jsonb(detail) if detail is not None else None),
        )

    def timeline(self, release_id: str) -> list[Event]:
        rows = self.conn.execute(
            "SELECT at, kind, message, actor, detail FROM reelgate_gates.events WHERE release_id = %s ORDER BY id",
            (release_id,),
        ).fetchall()
        return [Event(**row) for row in rows]

    # -- each gate as it runs (the dashboard's live page) ---------------------------------

    def plan_gates(self, release_id: str, phase: str, gates: list[tuple[str, str, bool]]) -> None:
        """The gates (id, uses, required) a phase is about to run, queued in the policy's order."""
        for position, (gate, uses, required) in enumerate(gates):
            self.conn.execute(
                "INSERT INTO reelgate_gates.progress (release_id, phase, gate, uses, required, position)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (release_id, phase, gate)"
                " DO UPDATE SET started_at = NULL, position = EXCLUDED.position",
                (release_id, phase, gate, uses, required, position),
            )

    def gate_started(self, release_id: str, phase: str, gate: str) -> None:
        self.conn.execute(
            "UPDATE reelgate_gates.progress SET started_at = now() WHERE release_id = %s AND phase = %s AND gate = %s",
            (release_id, phase, gate),
        )

    def progress(self, release_id: str) -> list[dict[str, Any]]:
        """Every planned gate: phase, gate, uses, required, started_at (None while queued)."""
        rows = self.conn.execute(
            "SELECT phase, gate, uses, required, started_at FROM reelgate_gates.progress WHERE release_id = %s"
            " ORDER BY phase DESC, position",
            (release_id,),
        ).fetchall()
        return [dict(row) for row in rows]

    def release_before(self, release_id: str) -> Release | None:
        """The release that was live when `release_id` started: the newest one promoted before it."""
        return self._row(
            self.conn.execute(
                "SELECT * FROM reelgate_gates.releases WHERE state = 'promoted' AND finished_at <"
                " (SELECT created_at FROM reelgate_gates.releases WHERE id = %s) ORDER BY finished_at DESC LIMIT 1",
                (release_id,),
            ).fetchone()
        )

    def save_results(self, release_id: str, results: list[GateResult]) -> None:
        for result in results:
            self.conn.execute(
                "INSERT INTO reelgate_gates.results (release_id, gate, phase, verdict, result)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (release_id, phase, gate)"
                " DO UPDATE SET verdict = EXCLUDED.verdict, result = EXCLUDED.result, recorded_at = now()",
                (release_id, result.gate, result.phase, result.verdict, Jsonb(msgspec.to_builtins(result))),
            )

    def results(self, release_id: str) -> list[GateResult]:
        rows = self.conn.execute(
            "SELECT result FROM reelgate_gates.results WHERE release_id = %s ORDER BY phase DESC, recorded_at",
            (release_id,),
        ).fetchall()
        return [msgspec.convert(row["result"], GateResult) for row in rows]

    def last_promoted_value(self, gate: str, check: str) -> float | None:
        """`check`'s value in the latest promoted release whose `gate` measured it: a release in which the gate
        was skipped (on purpose, or for want of evidence) or did not report that check is passed over."""
        # A check on its own (`p95_ms`) or a judged comparison of it (`p95_ms vs last_promoted`).
        row = self.conn.execute(
            "SELECT c.value FROM reelgate_gates.results r"
            " JOIN reelgate_gates.releases rel ON rel.id = r.release_id,"
            " LATERAL jsonb_array_elements(r.result -> 'checks') AS c(value)"
            " WHERE rel.state = 'promoted' AND r.gate = %s AND r.phase = 'pre' AND r.verdict <> 'skipped'"
            " AND jsonb_typeof(c.value -> 'value') = 'number'"
            " AND coalesce(nullif(c.value ->> 'metric', ''), split_part(c.value ->> 'name', ' vs ', 1)) = %s"
            " ORDER BY rel.finished_at DESC LIMIT 1",
            (gate, check),
        ).fetchone()
        return float(row["value"]["value"]) if row is not None else None

    def add_waiver(
        self, release_id: str | None, waiver: Waiver, address: str | None = None, verified: bool = False
    ) -> None:
        """A waiver, in the audit log (`verified` when its author is a signed-in account) and the timeline."""
        self.conn.execute(
            "INSERT INTO reelgate_gates.waivers (release_id, gate, check_name, reason, author, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (release_id, waiver.gate, waiver.check, waiver.reason, waiver.author, waiver.expires_at),
        )
        self.audit(
            "release.waive",
            waiver.author,
            address,
            release=release_id,
            check=f"{waiver.gate}.{waiver.check}",
            reason=waiver.reason,
            expires=f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC",
            verified=verified,
        )
        if release_id:
            self.event(
                release_id,
                "waiver",
                f"check {waiver.gate}.{waiver.check} waived until "
                f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC: {waiver.reason}",
                waiver.author,
            )

    def audit(self, action: str, who: str, address: str | None = None, **detail: Any) -> None:
        """Add a release decision to the platform's audit log (`audit_events`, a shared name), which
        `reelgate audit` reads beside the keys and sign-ins. A database without it (a platform from before
        migration 0003) keeps the decision in the release's own timeline only."""
        try:
            with self.conn.transaction():
                self.conn.execute(
                    "INSERT INTO audit_events (action, actor, address, detail) VALUES (%s, %s, %s, %s)",
                    (action, who, address or f"cli@{socket.gethostname()}", Jsonb(detail)),
                )
        except psycopg.errors.UndefinedTable:
            pass

    def waivers(self, release_id: str) -> list[Waiver]:
        rows = self.conn.execute(
            "SELECT gate, check_name AS check, reason, author, expires_at FROM reelgate_gates.waivers"
            " WHERE (release_id = %s OR release_id IS NULL) AND expires_at > now()",
            (release_id,),
        ).fetchall()
        return [msgspec.convert(row, Waiver) for row in rows]

    # -- the live color and the runner's lock ------------------------------------------

    def live(self) -> tuple[str, str | None]:
        row = self.conn.execute("SELECT color, build_dir FROM reelgate_gates.live").fetchone()
        return (row["color"], row["build_dir"]) if row else ("blue", None)

    def set_live(self, color: str, release_id: str | None, build_dir: str | None) -> None:
        self.conn.execute(
            "INSERT INTO reelgate_gates.live (color, release_id, build_dir) VALUES (%s, %s, %s)"
            " ON CONFLICT (only_row) DO UPDATE SET color = EXCLUDED.color, release_id = EXCLUDED.release_id,"
            " build_dir = EXCLUDED.build_dir, updated_at = now()",
            (color, release_id, build_dir),
        )

    @staticmethod
    def _lock_key(release_id: str) -> int:
        return zlib.crc32(f"reelgate-release:{release_id}".encode())

    def hold_runner_lock(self, release_id: str) -> bool:
        """Held for as long as this connection lives: a dead runner's lock goes with it."""
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (self._lock_key(release_id),)).fetchone()
        return bool(row and row["ok"])

    def runner_alive(self, release_id: str) -> bool:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as other:
            row = other.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key(release_id),)).fetchone()
            if row and row[0]:
                other.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key(release_id),))
                return False
            return True
