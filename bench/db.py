"""The database's own time per query, uncached, at the size the seed names: 100 k videos across 1 k
tenants.

A throwaway stack is seeded in SQL (tenants with a key each, and per tenant 100 ready videos with
their outputs and four renditions). Then every query the API and the worker's hot paths run is called
through the platform's own `repo` functions, as the application's role inside a tenant's transaction
(so row-level security applies as it does in production), with random tenants and videos, 8 at a
time, and no Valkey in front.

PostgreSQL measures: `log_min_duration_statement = 0` logs each statement's parse, bind (planning)
and execute time, which are added up per statement and give the p95 per query;
`pg_stat_statements` gives the calls and mean execution time beside it as a cross-check. The
baseline is the p95 of `SELECT 1` measured the same way: the floor of a round trip inside the server.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg_pool import AsyncConnectionPool

from bench.common import Result, save, throwaway_stack
from reelgate.platform import repo
from reelgate.platform.infra.db import system_db, tenant_db
from reelgate.platform.settings import load_settings
from reelgate.plugins.vmaf import percentile

GOAL_MS = 5.0
CONCURRENCY = 8
SEED = """
INSERT INTO tenants (name, rate_limit_per_minute) SELECT 'db-' || g, 0 FROM generate_series(1, %(tenants)s) g;
INSERT INTO api_keys (tenant_id, key_hash, prefix)
    SELECT id, sha256(convert_to('key-' || name, 'UTF8')), left(md5(name), 8) FROM tenants WHERE name LIKE 'db-%%';
INSERT INTO outputs (tenant_id, content_sha256, ladder_key, dir, refcount, thumbnail_bytes, cpu_seconds, hls_bytes,
                     total_bytes)
    SELECT t.id, md5(t.id::text || g), 'h264-aac-hls-v2:1080,720,480,360', 'outputs/' || md5(t.id::text || g), 1,
           20000, 30, 9000000, 20000 + 9000000 + 6000000 + 2000000 + 900000 + 500000
    FROM tenants t, generate_series(1, %(per_tenant)s) g WHERE t.name LIKE 'db-%%';
INSERT INTO renditions (output_id, name, width, height, bytes, file)
    SELECT o.id, r.name, r.w, r.h, r.b, r.name || '.mp4' FROM outputs o,
    (VALUES ('1080p', 1920, 1080, 6000000), ('720p', 1280, 720, 2000000), ('480p', 854, 480, 900000),
            ('360p', 640, 360, 500000)) AS r(name, w, h, b);
INSERT INTO videos (tenant_id, filename, title, content_type, source_bytes, content_sha256, status, progress,
                    duration_s, width, height, video_codec, audio_codec, ladder_key, output_id, cpu_seconds, color,
                    created_at, finished_at)
    SELECT o.tenant_id, 'clip.mp4', 'Clip ' || left(o.content_sha256, 6), 'video/mp4', 10000000, o.content_sha256,
           'ready', 1, 60, 1920, 1080, 'h264', 'aac', o.ladder_key, o.id, 30, 'blue',
           now() - random() * interval '90 days', now()
    FROM outputs o;
"""
# `2026-12-02 18:00:00.123 UTC [4242] LOG:  duration: 0.412 ms  execute <unnamed>: SELECT ...`
LINE = re.compile(r"^(\S+ \S+) \S+ \[(\d+)\] LOG:  duration: ([\d.]+) ms  (parse|bind|execute) [^:]*: (.*)$")
SKIP = ("SELECT set_config(", "BEGIN", "COMMIT", "ROLLBACK")
Target = tuple[UUID, str, list[UUID]]
"""A seeded tenant: its id, its key, its videos."""
Call = Callable[[], Awaitable[Any]]


class Phase(SimpleNamespace):
    name: str
    started: datetime
    ended: datetime


def seed(url: str, tenants: int, per_tenant: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        # Several statements in one: only client-side binding allows that.
        psycopg.ClientCursor(conn).execute(SEED, {"tenants": tenants, "per_tenant": per_tenant})
        conn.execute("ANALYZE")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
        conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] '")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("SELECT pg_stat_statements_reset()")


def targets(url: str) -> list[Target]:
    """(tenant id, key, its video ids) for every seeded tenant."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT t.id, t.name, array_agg(v.id) FROM tenants t JOIN videos v ON v.tenant_id = t.id"
            " WHERE t.name LIKE 'db-%' GROUP BY t.id, t.name"
        ).fetchall()
    return [(row[0], f"key-{row[1]}", list(row[2])) for row in rows]


def calls(pool: AsyncConnectionPool[Any], tenants: list[Target]) -> dict[str, Call]:
    state = SimpleNamespace(pool=pool)

    def pick() -> tuple[SimpleNamespace, str, list[UUID]]:
        tenant_id, key, videos = random.choice(tenants)
        return SimpleNamespace(id=tenant_id), key, videos

    async def as_tenant(work: Callable[[Any, Any, list[UUID]], Awaitable[Any]]) -> Any:
        tenant, _key, videos = pick()
        async with tenant_db(state, tenant) as conn:  # type: ignore[arg-type]
            return await work(conn, tenant, videos)

    async def key_lookup() -> Any:
        _tenant, key, _videos = pick()
        async with pool.connection() as conn:
            return await repo.tenant_for_key(conn, key)

    async def second_page(conn: Any, tenant: Any, _videos: list[UUID]) -> Any:
        _items, cursor = await repo.list_videos(conn, tenant.id, 20, None)
        return await repo.list_videos(conn, tenant.id, 20, repo.decode_cursor(cursor) if cursor else None)

    async def playback() -> Any:
        _tenant, _key, videos = pick()
        async with system_db(pool) as conn:
            return await repo.playback_folder(conn, random.choice(videos))

    async def egress() -> Any:
        _tenant, _key, videos = pick()
        async with system_db(pool) as conn:
            return await conn.execute(
                "UPDATE videos v SET egress_bytes = v.egress_bytes + c.n"
                " FROM unnest(%s::uuid[], %s::bigint[]) AS c(id, n) WHERE v.id = c.id",
                (videos[:10], [1000] * 10),
            )

    async def upload(conn: Any, tenant: Any, _videos: list[UUID]) -> Any:
        sha = uuid4().hex
        await repo.reuse_output(conn, tenant.id, sha, "h264-aac-hls-v2:1080,720,480,360")
        fields = {
            "id": uuid4(), "tenant_id": tenant.id, "title": "", "filename": "new.mp4", "content_type": "video/mp4",
            "source_bytes": 1, "content_sha256": sha, "status": "queued", "progress": 0.0, "duration_s": 1.0,
            "width": 640, "height": 360, "video_codec": "h264", "audio_codec": None,
            "ladder_key": "h264-aac-hls-v2:1080,720,480,360", "output_id": None, "color": "blue",
        }  # fmt: skip
        return await repo.insert_video(conn, fields, finished=False)

    return {
        "tenant_for_key": key_lookup,
        "get_video": lambda: as_tenant(lambda c, t, v: repo.get_video(c, t.id, random.choice(v))),
        "list_videos": lambda: as_tenant(lambda c, t, v: repo.list_videos(c, t.id, 20, None)),
        "list_videos (page 2)": lambda: as_tenant(second_page),
        "video_states": lambda: as_tenant(
            lambda c, t, v: repo.video_states(c, t.id, random.sample(v, min(12, len(v))))
        ),
        "rendition_file": lambda: as_tenant(lambda c, t, v: repo.rendition_file(c, t.id, random.choice(v), "720p")),
        "thumbnail": lambda: as_tenant(lambda c, t, v: repo.rendition_file(c, t.id, random.choice(v), None)),
        "usage_rows": lambda: as_tenant(lambda c, t, v: repo.usage_rows(c, t.id)),
        "playback_folder": playback,
        "egress flush": egress,
        "upload (reuse check + insert)": lambda: as_tenant(upload),
    }


async def drive(url: str, tenants: list[Target], per_query: int) -> list[Phase]:
    phases = []
    async with AsyncConnectionPool(
        url, min_size=CONCURRENCY, max_size=CONCURRENCY, kwargs={"autocommit": True}
    ) as pool:
        named = {"SELECT 1 (baseline)": lambda: _select_one(pool), **calls(pool, tenants)}
        for name, call in named.items():
            for _ in range(20):  # warm the plans and the cache of the pages this phase reads
                await call()
            started = datetime.now().astimezone()

            async def worker(call: Call = call) -> None:
                for _ in range(per_query // CONCURRENCY):
                    await call()

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            phases.append(Phase(name=name, started=started, ended=datetime.now().astimezone()))
            await asyncio.sleep(0.05)
    return phases


async def _select_one(pool: AsyncConnectionPool[Any]) -> None:
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


def durations(log: Path, offset: int, phases: list[Phase]) -> dict[str, list[float]]:
    """Each phase's statements, parse + bind + execute added up per statement, in milliseconds."""
    found: dict[str, list[float]] = {p.name: [] for p in phases}
    pending: dict[str, float] = {}
    with log.open() as fh:
        fh.seek(offset)
        for line in fh:
            match = LINE.match(line.rstrip("\n"))
            if not match:
                continue
            at_text, pid, ms, step, sql = match.groups()
            if sql.startswith(SKIP):
                continue
            pending[pid] = pending.get(pid, 0.0) + float(ms)
            if step != "execute":
                continue
            total = pending.pop(pid)
            at = datetime.strptime(at_text, "%Y-%m-%d %H:%M:%S.%f").astimezone()
            for phase in phases:
                if phase.started <= at <= phase.ended:
                    found[phase.name].append(total)
    return found


def run(tenants: int = 1000, per_tenant: int = 100, per_query: int = 800) -> list[Result]:
    with throwaway_stack() as (env, _router):
        settings = load_settings(env)
        seed(settings.db_url, tenants, per_tenant)
        log = settings.log_dir / "postgres.log"
        time.sleep(1)  # the reload reaches every backend
        offset = log.stat().st_size
        phases = asyncio.run(drive(settings.app_db_url, targets(settings.db_url), per_query))
        time.sleep(1)
        with psycopg.connect(settings.db_url, autocommit=True) as conn:
            stats = conn.execute(
                "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls, mean_exec_time"
                " FROM pg_stat_statements WHERE query NOT LIKE '%%set_config%%' ORDER BY total_exec_time DESC LIMIT 15"
            ).fetchall()
            conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
            conn.execute("SELECT pg_reload_conf()")
            counts = conn.execute("SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM tenants)").fetchone()
        measured = durations(log, offset, phases)
    p95 = {name: round(percentile(ms, 0.95), 3) for name, ms in measured.items() if ms}
    baseline = p95.pop("SELECT 1 (baseline)")
    worst = max(p95, key=lambda name: p95[name])
    return [
        save(
            Result(
                name="db-p95-per-query",
                metric=f"the slowest query's p95 ({worst})",
                value=p95[worst],
                baseline_metric="p95 of SELECT 1, measured the same way",
                baseline=baseline,
                ratio=p95[worst] / baseline,
                goal=f"every query p95 < {GOAL_MS:g} ms",
                met=all(v < GOAL_MS for v in p95.values()),
                unit="ms",
                details={
                    "rows": {"videos": counts[0] if counts else 0, "tenants": counts[1] if counts else 0},
                    "p95_ms": p95,
                    "median_ms": {n: round(statistics.median(ms), 3) for n, ms in measured.items() if ms},
                    "statements": {n: len(ms) for n, ms in measured.items()},
                    "pg_stat_statements": [{"query": q, "calls": c, "mean_exec_ms": round(m, 3)} for q, c, m in stats],
                },
            )
        )
    ]
