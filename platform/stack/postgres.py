"""PostgreSQL's first start: the cluster (as the `postgres` user when run as root), its password, the database."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError, pg_bin, run_as_postgres


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if run_as_postgres() else cmd


def init_postgres(settings: Settings, pg_data: Path) -> None:
    """Create the cluster once, with a generated password for the `reelgate` role."""
    secret = settings.var / "secrets" / "db_password"
    if (pg_data / "PG_VERSION").exists():
        if not secret.exists():
            raise StackError(f"{pg_data} exists but {secret} is missing; remove {pg_data} to start over")
        return
    initdb = pg_bin() / "initdb"
    secret.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(24)
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    pg_data.mkdir(parents=True, exist_ok=True)
    # initdb reads the password from a file the postgres user can read; it lives only for the call.
    fd, name = tempfile.mkstemp(prefix="reelgate-initdb-")
    pwfile = Path(name)
    os.write(fd, (password + "\n").encode())
    os.close(fd)
    if run_as_postgres():
        uid, gid = pwd.getpwnam("postgres")[2:4]
        owned = [pg_data, pwfile] + ([pg_data.parent] if pg_data.parent != settings.var else [])
        for path in owned:
            os.chown(path, uid, gid)
    pg_data.chmod(0o700)
    try:
        result = subprocess.run(
            as_postgres(
                [
                    str(initdb),
                    "-D",
                    str(pg_data),
                    "-U",
                    "reelgate",
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(pg_data, ignore_errors=True)
        secret.unlink(missing_ok=True)
        raise StackError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")


def ensure_database(settings: Settings) -> None:
    import psycopg

    admin_url = settings.db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'reelgate'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE reelgate")


def pg_accepting(settings: Settings) -> bool:
    import psycopg

    admin_url = settings.db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, connect_timeout=2) as conn:
        conn.execute("SELECT 1")
    return True


def ensure_app_login(settings: Settings) -> None:
    """Give the local stack's `reelgate_app` role (made by migration 0003) a login and a password,
    generated once into `var/secrets/db_app_password`. An external database is left to its owner."""
    import psycopg
    from psycopg import sql

    if settings.database_url:
        return
    secret = settings.var / "secrets" / "db_app_password"
    if not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret.write_text(secrets.token_urlsafe(24) + "\n")
        secret.chmod(0o600)
    password = secret.read_text().strip()
    with psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("ALTER ROLE reelgate_app LOGIN PASSWORD {}").format(sql.Literal(password)))
