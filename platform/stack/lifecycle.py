"""The stack's commands: `up`, `down`, `status`, and starting or stopping one color."""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import psutil

from reelgate.platform.backup import pgbackrest
from reelgate.platform.settings import Settings
from reelgate.platform.stack.configs import haproxy_config, supervisor_config, write_nginx_files
from reelgate.platform.stack.paths import (
    COLORS,
    StackError,
    color_link,
    live_color,
    metrics_dir,
    other,
    pg_data_dir,
    point_color,
)
from reelgate.platform.stack.ports import check_ports_free
from reelgate.platform.stack.postgres import ensure_app_login, ensure_database, init_postgres, pg_accepting
from reelgate.platform.stack.supervisor import (
    process_info,
    reap_stale_supervisor,
    shutdown_supervisor,
    start_part,
    start_supervisor,
    stop_part,
    supervisor_running,
    wait_until,
)


class PartStatus(msgspec.Struct):
    name: str
    url: str
    pid: int | None
    state: str
    health: str


def _valkey_ping(settings: Settings) -> bool:
    import valkey

    client = valkey.Valkey.from_url(settings.kv_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _log_tail(settings: Settings, part: str, lines: int = 3) -> str:
    path = settings.log_dir / f"{part}.log"
    tail = path.read_text(errors="replace").strip().splitlines()[-lines:] if path.exists() else []
    return " | ".join(tail) or "(empty)"


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    import httpx

    return httpx.get(url, timeout=timeout).status_code == 200


def _prepare(settings: Settings) -> Path:
    for sub in ("run", "log", "valkey", "media"):
        (settings.var / sub).mkdir(parents=True, exist_ok=True)
    for color in COLORS:  # multiprocess metrics start empty with their processes
        shutil.rmtree(metrics_dir(settings, color), ignore_errors=True)
        metrics_dir(settings, color).mkdir()
        if not color_link(settings, color).exists():
            point_color(settings, color, Path(sys.prefix))
    pg_data = pg_data_dir(settings)
    init_postgres(settings, pg_data)
    if settings.backup_dir:
        pgbackrest.write_config(settings)
    live = live_color(settings)
    (settings.var / "haproxy.cfg").write_text(haproxy_config(settings, live))
    write_nginx_files(settings, live)
    (settings.var / "supervisord.conf").write_text(supervisor_config(settings, pg_data))
    return pg_data


def up(settings: Settings, progress: Callable[[str], None] = lambda _m: None) -> list[PartStatus]:
    """Start whatever part of the stack is not running; return the status of every part."""
    running = {name for name, info in process_info(settings).items() if info["statename"] == "RUNNING"}
    live = live_color(settings)
    wanted_ports = {
        "postgres": settings.port("postgres"),
        "valkey": settings.port("valkey"),
        f"api-{live}": settings.port(live),
        router_part(settings): settings.port("router"),
    }
    check_ports_free(settings, {part: port for part, port in wanted_ports.items() if part not in running})
    if not supervisor_running(settings):
        progress("preparing var/ (PostgreSQL cluster, configs)")
        pg_data = _prepare(settings)
        if pg_data.parent != settings.var:
            progress(f"PostgreSQL data is in {pg_data}: the postgres user cannot enter {settings.var}")
        start_supervisor(settings)
    progress("starting PostgreSQL and Valkey")
    start_part(settings, "postgres")
    start_part(settings, "valkey")
    wait_until(lambda: pg_accepting(settings), 30, "PostgreSQL to accept connections")
    wait_until(lambda: _valkey_ping(settings), 15, "Valkey to answer PING")
    ensure_database(settings)
    if settings.backup_dir:
        progress(f"archiving the database's WAL to {pgbackrest.repository(settings)}")
        pgbackrest.run(settings, "stanza-create")
    progress("applying migrations")
    from reelgate.platform.infra.migrate import upgrade

    upgrade(settings.db_url)
    ensure_app_login(settings)
    if settings.dependency_proxy:
        start_part(settings, "proxy")
        wait_until((settings.proxy_dir / "valkey.sock").exists, 15, "the chaos proxy's sockets")
    progress(f"starting the {live} API and worker, and {router_part(settings)}")
    start_part(settings, f"api-{live}")
    start_part(settings, f"worker-{live}")
    start_part(settings, router_part(settings))
    for part, port in ((f"api-{live}", settings.port(live)), (router_part(settings), settings.port("router"))):
        try:
            url = f"http://127.0.0.1:{port}/health/ready"
            wait_until(functools.partial(_http_ok, url), 30, f"{part} to be ready")
        except StackError as exc:
            raise StackError(
                f"{exc}; the end of {settings.log_dir / (part + '.log')}: {_log_tail(settings, part)}"
            ) from None
    return status(settings)


def start_color(settings: Settings, color: str, venv: Path | None) -> PartStatus:
    """Run `color`'s API and worker (on `venv`'s build when given) and wait until it is ready."""
    if not supervisor_running(settings):
        raise StackError("the stack is not running (`reelgate stack up`)")
    if venv is not None:
        stop_part(settings, f"api-{color}")
        stop_part(settings, f"worker-{color}")
        point_color(settings, color, venv)
    start_part(settings, f"api-{color}")
    start_part(settings, f"worker-{color}")
    url = f"http://127.0.0.1:{settings.port(color)}"
    wait_until(lambda: _http_ok(f"{url}/health/ready"), 60, f"api-{color} ready")
    return next(p for p in status(settings) if p.name == f"api-{color}")


def stop_color(settings: Settings, color: str, drain_to: str | None) -> int:
    """Stop `color`'s API and worker; with `drain_to`, its waiting jobs move to that color's queue.

    Returns how many jobs moved.
    """
    stop_part(settings, f"api-{color}")
    stop_part(settings, f"worker-{color}")
    if drain_to is None:
        return 0
    import psycopg

    from reelgate.platform import repo

    with psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn, conn.transaction():
        moved = repo.move_waiting_jobs_sync(conn, color, drain_to)
        # The reconciler re-defers what was running on the stopped worker onto the new color.
        repo.reassign_unfinished_sync(conn, color, drain_to)
    return moved


def router_part(settings: Settings) -> str:
    if settings.router not in ("haproxy", "nginx"):
        raise StackError(f"unknown router {settings.router!r}: choose haproxy or nginx (REELGATE_ROUTER)")
    return settings.router


def down(settings: Settings) -> bool:
    """Stop every part and supervisord itself; False if nothing was running."""
    pidfile = settings.run_dir / "supervisord.pid"
    if not supervisor_running(settings):
        reap_stale_supervisor(pidfile)
        return False
    for name in (
        "haproxy",
        "nginx",
        *(f"api-{c}" for c in COLORS),
        *(f"worker-{c}" for c in COLORS),
        "proxy",
        "valkey",
        "postgres",
    ):
        stop_part(settings, name)
    pid = int(pidfile.read_text()) if pidfile.exists() else None
    shutdown_supervisor(settings)
    if pid:
        wait_until(lambda: not psutil.pid_exists(pid), 30, f"supervisord (pid {pid}) to exit")
    return True


def status(settings: Settings) -> list[PartStatus]:
    """The router first, then each part with its URL, PID and health."""
    infos = process_info(settings)
    live = live_color(settings)

    def part(name: str, url: str, check: Callable[[], bool]) -> PartStatus:
        info = infos.get(name, {})
        state = str(info.get("statename", "STOPPED" if infos else "DOWN"))
        pid = int(str(info["pid"])) if info.get("pid") else None
        healthy = "-"
        if state == "RUNNING":
            try:
                healthy = "healthy" if check() else "unhealthy"
            except Exception as exc:  # a health probe failing is a status, not an error
                healthy = f"unhealthy ({type(exc).__name__})"
        return PartStatus(name=name, url=url, pid=pid, state=state, health=healthy)

    router = f"http://127.0.0.1:{settings.port('router')}"
    parts = [
        part(router_part(settings), router, lambda: _http_ok(f"{router}/health/ready")),
        part(
            "postgres", f"postgresql://127.0.0.1:{settings.port('postgres')}/reelgate", lambda: pg_accepting(settings)
        ),
        part("valkey", settings.kv_url, lambda: _valkey_ping(settings)),
    ]
    for color in COLORS:
        api = f"http://127.0.0.1:{settings.port(color)}"
        parts.append(part(f"api-{color}", api, functools.partial(_http_ok, f"{api}/health/ready")))
        parts.append(part(f"worker-{color}", f"queue transcode.{color}", lambda: True))
    # Unstarted parts of the other color are noise in a one-color stack.
    return [p for p in parts if not (p.state in ("STOPPED", "DOWN") and p.name.endswith(other(live)))]
