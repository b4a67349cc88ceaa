"""`reelgate db upgrade`: the platform's numbered SQL migrations and procrastinate's own.

Order matters when two colors share one database: procrastinate's `pre`
migrations (and its older, unsplit ones) go first, then ours (yoyo), then
procrastinate's `post` migrations. Our migrations are expand-then-contract:
a release only adds; dropping what the old color still uses waits for a
later release.

A fresh database gets procrastinate's whole schema at once, and its
migrations up to the installed version are recorded as applied.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg
from procrastinate import schema as procrastinate_schema
from yoyo import get_backend, read_migrations

# Any number works as long as every color uses the same one.
ADVISORY_LOCK = 7_404_711


def _procrastinate_migrations() -> list[Path]:
    folder = Path(procrastinate_schema.__file__).parent / "sql" / "migrations"
    return sorted(folder.glob("*.sql"))


def _is_post(path: Path) -> bool:
    return "_post_" in path.name


def _yoyo_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


def upgrade(url: str) -> list[str]:
    """Apply every pending migration; return the names applied, in order."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS reelgate_procrastinate_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            files = _procrastinate_migrations()
            done = {row[0] for row in conn.execute("SELECT name FROM reelgate_procrastinate_migrations")}
            row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()
            fresh = bool(row and row[0])
            if fresh:
                with conn.transaction():
                    conn.execute(procrastinate_schema.SchemaManager.get_schema())
                    _record(conn, [f.name for f in files])
                applied.append("procrastinate schema")
                done = {f.name for f in files}
            pending = [f for f in files if f.name not in done]
            applied += _apply(conn, [f for f in pending if not _is_post(f)])
            applied += _apply_yoyo(url)
            applied += _apply(conn, [f for f in pending if _is_post(f)])
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))
    return applied


def _record(conn: psycopg.Connection, names: list[str]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO reelgate_procrastinate_migrations (name) VALUES (%s) ON CONFLICT DO NOTHING",
            [(n,) for n in names],
        )


def _apply(conn: psycopg.Connection, files: list[Path]) -> list[str]:
    for path in files:
        with conn.transaction():
            conn.execute(path.read_text())
            _record(conn, [path.name])
    return [f"procrastinate {p.name}" for p in files]


def _apply_yoyo(url: str) -> list[str]:
    backend = get_backend(_yoyo_url(url))
    with resources.as_file(resources.files("reelgate.platform.migrations")) as folder:
        migrations = read_migrations(str(folder))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    return [m.id for m in pending]


def pending(url: str) -> list[str]:
    """Names of our migrations not yet applied (for `db status`)."""
    backend = get_backend(_yoyo_url(url))
    with resources.as_file(resources.files("reelgate.platform.migrations")) as folder:
        return [m.id for m in backend.to_apply(read_migrations(str(folder)))]
