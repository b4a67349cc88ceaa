"""The platform's command groups: `stack`, `tenant`, `db`, `serve`, `worker`.

Registered through the `reelgate.commands` entry-point group. Errors are
told as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click
import msgspec

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.platform.auth import KEYS_CHANNEL
from reelgate.platform.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from reelgate.platform.stack import PartStatus

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (for scripts and the engine)."
)


COLOR = click.Choice(contract.COLORS)


def _emit(as_json: bool, answer: answers.Answer, text: str) -> None:
    """The answer (`reelgate.contract.answers`) as one JSON object on stdout with --json, else the sentence
    for people."""
    click.echo(answers.encode(answer) if as_json else text)


class CliFailure(click.ClickException):
    """A failure a user can act on: one line for people, or with --json a `Failure` answer on stdout, whose
    `error` code callers decide on (never the words). Exit 1 either way."""

    def __init__(self, code: answers.FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        ctx = click.get_current_context(silent=True)
        self.as_json = bool(ctx and ctx.params.get("as_json"))

    def show(self, file: Any = None) -> None:
        if self.as_json:
            click.echo(answers.encode(answers.Failure(error=self.code, message=self.message)))
        else:
            super().show(file)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the failures a user can act on into one clear line."""
    import psycopg

    from reelgate.platform.stack import StackError

    try:
        yield
    except (StackError, SettingsError) as exc:
        raise CliFailure("stack" if isinstance(exc, StackError) else "settings", str(exc)) from None
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliFailure(
            "database_unreachable", f"cannot reach PostgreSQL ({first}); is the stack up? (`reelgate stack up`)"
        ) from None


def _settings() -> Settings:
    with _user_errors():
        return get_settings()


# -- stack ---------------------------------------------------------------------


@click.group()
def stack() -> None:
    """The local stack: PostgreSQL, Valkey, the live color's API and worker, HAProxy."""


def _print_status(parts: list[PartStatus]) -> None:
    router = parts[0]
    click.echo(f"router: {router.url}")
    width = max(len(p.name) for p in parts)
    for p in parts:
        pid = str(p.pid) if p.pid else "-"
        click.echo(f"  {p.name:<{width}}  {p.state:<8}  pid {pid:<8}  {p.health:<10}  {p.url}")


@stack.command("up")
def stack_up() -> None:
    """Start what is not running (idempotent)."""
    from reelgate.platform import stack as stack_mod

    settings = _settings()
    with _user_errors():
        parts = stack_mod.up(settings, progress=lambda m: click.echo(f"... {m}", err=True))
    _print_status(parts)


@stack.command("down")
def stack_down() -> None:
    """Stop everything `up` started (idempotent)."""
    from reelgate.platform import stack as stack_mod

    settings = _settings()
    with _user_errors():
        stopped = stack_mod.down(settings)
    click.echo("stack stopped" if stopped else "stack was not running")


@stack.command("status")
def stack_status() -> None:
    """The router URL first, then each part with its URL, PID and health."""
    from reelgate.platform import stack as stack_mod

    settings = _settings()
    with _user_errors():
        parts = stack_mod.status(settings)
    _print_status(parts)
    if any(p.state != "RUNNING" or p.health not in ("healthy", "-") for p in parts):
        raise click.exceptions.Exit(1)


@stack.command("color")
@click.argument("action", type=click.Choice(["start", "stop"]))
@click.argument("color", type=COLOR)
@click.option(
    "--build",
    "venv",
    type=click.Path(path_type=Path, file_okay=False),
    help="start: run this build (a venv with bin/reelgate) as COLOR.",
)
@click.option("--drain-to", type=COLOR, help="stop: move COLOR's waiting jobs to this color's queue.")
@JSON_OPTION
def stack_color(action: str, color: str, venv: Path | None, drain_to: str | None, as_json: bool) -> None:
    """Start or stop one color's API and worker (the release runner's deployer uses this).

    --json prints `{"color", "url", "pid"}` after a start, `{"color", "moved_jobs", "drain_to"}` after a stop.
    """
    from reelgate.platform import stack as stack_mod

    settings = _settings()
    with _user_errors():
        if action == "start":
            part = stack_mod.start_color(settings, color, venv)
            _emit(
                as_json,
                answers.ColorStarted(color=contract.color(color), url=part.url, pid=part.pid),
                f"{color} ready at {part.url} (pid {part.pid})",
            )
        else:
            moved = stack_mod.stop_color(settings, color, drain_to)
            text = f"{color} stopped" + (f"; {moved} waiting jobs moved to {drain_to}" if drain_to else "")
            drained = contract.color(drain_to) if drain_to else None
            _emit(as_json, answers.ColorStopped(color=contract.color(color), moved_jobs=moved, drain_to=drained), text)


@stack.command("router-config")
@click.argument("live", type=COLOR)
@JSON_OPTION
def stack_router_config(live: str, as_json: bool) -> None:
    """Record LIVE as the live color after a confirmed switch, and regenerate both routers' configs from it.

    Writes `var/live_color`, `var/haproxy.cfg` and nginx's `upstream.conf`, so that a reload or a
    `stack down` and `stack up` keep serving LIVE. --json prints `{"live", "files"}`.
    """
    from reelgate.platform import stack as stack_mod

    settings = _settings()
    with _user_errors():
        paths = stack_mod.write_router_config(settings, live)
    _emit(
        as_json,
        answers.RouterConfig(live=contract.color(live), files=[str(p) for p in paths]),
        f"live color {live}: " + ", ".join(map(str, paths)),
    )


# -- tenant --------------------------------------------------------------------


@click.group()
def tenant() -> None:
    """Tenants and their API keys."""


@tenant.command("create")
@click.argument("name")
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Requests per minute (0: not limited). Default: the platform's setting.",
)
@JSON_OPTION
def tenant_create(name: str, rate_limit: int | None, as_json: bool) -> None:
    """Create tenant NAME. The API key is printed alone on the last line, once: keep it.

    --json prints `{"name", "id", "api_key"}` instead.
    """
    import psycopg

    from reelgate.platform import repo

    settings = _settings()
    actor, address = _cli_actor()
    with _user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        try:
            tenant_id, key = repo.create_tenant_sync(conn, name, rate_limit)
        except psycopg.errors.UniqueViolation:
            raise CliFailure("tenant_exists", f"a tenant named {name!r} already exists") from None
        repo.record_sync(
            conn, "key.created", actor=actor, address=address, tenant_id=tenant_id, tenant=name, prefix=key[:8]
        )
    if as_json:
        _emit(True, answers.TenantCreated(name=name, id=str(tenant_id), api_key=key), "")
        return
    click.echo(f"tenant {name} created (id {tenant_id}); its API key follows and is shown only once:", err=True)
    click.echo(key)


@tenant.command("list")
def tenant_list() -> None:
    """Every tenant: name, videos, storage used, rate limit, created."""
    import psycopg

    from reelgate.platform import repo
    from reelgate.platform.web.formats import size

    settings = _settings()
    with _user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        tenants = repo.list_tenants_sync(conn)
    click.echo(f"{'tenant':<32} {'videos':>6} {'storage':>10}  {'rate limit':<12} created")
    for t in tenants:
        limit = t.rate_limit_per_minute
        rate = "default" if limit is None else "none" if limit == 0 else f"{limit}/min"
        click.echo(
            f"{t.name[:32]:<32} {t.videos:>6} {size(t.stored_bytes):>10}  {rate:<12} {t.created_at:%Y-%m-%d %H:%M}"
        )


@tenant.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@JSON_OPTION
def tenant_delete(name: str, yes: bool, as_json: bool) -> None:
    """Delete tenant NAME: its keys, videos, renditions and captions, files included.

    A key an API process has already checked keeps working there for up to 30 s (its key cache),
    but cannot upload. --json prints `{"name", "videos", "rendition_sets"}`.
    """
    if not yes:
        click.confirm(f"Delete tenant {name!r} with all its videos and files?", abort=True)
    import shutil

    import psycopg

    from reelgate.platform import repo
    from reelgate.platform.media import MediaStore

    settings = _settings()
    actor, address = _cli_actor()
    with _user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        deleted = repo.delete_tenant_sync(conn, name)
        if deleted is not None:
            repo.record_sync(conn, "tenant.deleted", actor=actor, address=address, tenant=name, videos=len(deleted[0]))
    if deleted is None:
        raise CliFailure("no_such_tenant", f"there is no tenant named {name!r}")
    video_ids, folders = deleted
    media = MediaStore(settings.media)
    for video_id in video_ids:
        media.remove_video_files(video_id)
    for folder in folders:
        shutil.rmtree(media.resolve(folder), ignore_errors=True)
    _emit(
        as_json,
        answers.TenantDeleted(name=name, videos=len(video_ids), rendition_sets=len(folders)),
        f"tenant {name} deleted, with {len(video_ids)} video(s) and {len(folders)} set(s) of renditions",
    )


def _cli_actor() -> tuple[str, str]:
    """Who runs a CLI command and from where, for the audit log."""
    import getpass
    import socket

    return f"cli:{getpass.getuser()}", f"cli@{socket.gethostname()}"


def _announce_key_change(settings: Settings) -> bool:
    """Tell every API process to drop its key cache; False when Valkey cannot be told (they then
    check every key against PostgreSQL until their listener is back)."""
    import valkey

    try:
        client = valkey.Valkey.from_url(settings.kv_url, socket_timeout=2, socket_connect_timeout=2)
        client.publish(KEYS_CHANNEL, b"revoked")
        client.close()
        return True
    except (valkey.ValkeyError, OSError):
        return False


@tenant.group("key")
def tenant_key() -> None:
    """A tenant's API keys: create another, list them, revoke one (key rotation)."""


def _tenant_id(conn: Any, name: str) -> UUID:
    from reelgate.platform import repo

    tenant_id = repo.tenant_id_sync(conn, name)
    if tenant_id is None:
        raise CliFailure("no_such_tenant", f"there is no tenant named {name!r}")
    return tenant_id


@tenant_key.command("create")
@click.argument("name")
@JSON_OPTION
def tenant_key_create(name: str, as_json: bool) -> None:
    """Give tenant NAME another API key (its other keys keep working until revoked).

    The key is printed alone on the last line, once. --json prints `{"name", "key_id", "prefix", "api_key"}`.
    """
    import psycopg

    from reelgate.platform import repo

    settings = _settings()
    actor, address = _cli_actor()
    with _user_errors(), psycopg.connect(settings.db_url, connect_timeout=5) as conn, conn.transaction():
        tenant_id = _tenant_id(conn, name)
        key_id, key = repo.create_key_sync(conn, tenant_id)
        repo.record_sync(
            conn, "key.created", actor=actor, address=address, tenant_id=tenant_id, tenant=name, prefix=key[:8]
        )
    if as_json:
        _emit(True, answers.KeyCreated(name=name, key_id=str(key_id), prefix=key[:8], api_key=key), "")
        return
    click.echo(f"a new key for {name} (id {key_id}, prefix {key[:8]}) follows and is shown only once:", err=True)
    click.echo(key)


@tenant_key.command("list")
@click.argument("name")
@JSON_OPTION
def tenant_key_list(name: str, as_json: bool) -> None:
    """Tenant NAME's keys: id, prefix, created, revoked (never the keys themselves)."""
    import psycopg

    from reelgate.platform import repo

    settings = _settings()
    with _user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        keys = repo.keys_sync(conn, _tenant_id(conn, name))
    if as_json:
        infos = [
            answers.KeyInfo(
                id=str(k.id),
                prefix=k.prefix,
                created_at=k.created_at,
                revoked_at=k.revoked_at,
            )
            for k in keys
        ]
        _emit(True, answers.KeyList(name=name, keys=infos), "")
        return
    click.echo(f"{'key id':<36}  {'prefix':<8}  {'created':<16}  revoked")
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-"
        click.echo(f"{k.id!s:<36}  {k.prefix:<8}  {k.created_at:%Y-%m-%d %H:%M}  {revoked}")


@tenant_key.command("revoke")
@click.argument("name")
@click.argument("key")
@JSON_OPTION
def tenant_key_revoke(name: str, key: str, as_json: bool) -> None:
    """Revoke tenant NAME's key KEY (its id, or its prefix as `key list` shows it).

    The API refuses it everywhere within a second (every API process drops its key cache through
    Valkey); with Valkey down, API processes check every key against PostgreSQL, so at once.
    Page sessions signed in with it end too. --json prints `{"name", "revoked": [ids]}`.
    """
    import psycopg

    from reelgate.platform import repo

    settings = _settings()
    actor, address = _cli_actor()
    with _user_errors(), psycopg.connect(settings.db_url, connect_timeout=5) as conn, conn.transaction():
        tenant_id = _tenant_id(conn, name)
        live = [k for k in repo.keys_sync(conn, tenant_id) if k.revoked_at is None and key in (str(k.id), k.prefix)]
        if len(live) > 1:
            raise CliFailure("ambiguous_key", f"{len(live)} live keys start with {key!r}: give the key id instead")
        if not live:
            raise CliFailure("no_such_key", f"{name} has no live key with id or prefix {key!r} (see `tenant key list`)")
        repo.revoke_key_sync(conn, live[0].id)
        repo.record_sync(
            conn,
            "key.revoked",
            actor=actor,
            address=address,
            tenant_id=tenant_id,
            tenant=name,
            prefix=live[0].prefix,
            key_id=str(live[0].id),
        )
    told = _announce_key_change(settings)
    if not told:
        click.echo("Valkey did not answer: API processes check keys against PostgreSQL meanwhile", err=True)
    revoked = answers.KeyRevoked(name=name, revoked=[str(live[0].id)])
    _emit(as_json, revoked, f"key {live[0].prefix} of {name} revoked")


SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400}


@click.command()
@click.option("--tenant", "tenant_name", help="Only this tenant's events.")
@click.option("--action", help="Only these actions: a name or its start (`key.`, `auth.failed`).")
@click.option("--since", help="Only the last so long: 30m, 12h, 7d.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@JSON_OPTION
def audit(tenant_name: str | None, action: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """The audit log of security events, newest first: keys created and revoked, sign-in and sign-out,
    failed authentication, deletes, tenant deletes, release approvals, waivers and aborts."""
    from datetime import UTC, datetime, timedelta

    import psycopg

    from reelgate.platform import repo

    start = None
    if since:
        number, unit = since[:-1], since[-1:]
        if not number.isdigit() or unit not in SINCE_UNITS:
            raise click.UsageError(f"--since takes a number and m, h or d (30m, 12h, 7d), not {since!r}")
        start = datetime.now(UTC) - timedelta(seconds=int(number) * SINCE_UNITS[unit])
    settings = _settings()
    with _user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        events = repo.events_sync(conn, tenant_name, action, start, limit)
    if as_json:
        click.echo(msgspec.json.encode(events).decode())
        return
    for e in events:
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        click.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.action:<16} {e.tenant or '-':<20} {e.actor:<24} "
            f"{e.address or '-':<16} {detail}"
        )
    if not events:
        click.echo("no audit events match", err=True)


# -- db ------------------------------------------------------------------------


@click.group()
def db() -> None:
    """The platform's database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (procrastinate's and the platform's, expand-then-contract)."""
    from reelgate.platform.migrate import upgrade

    settings = _settings()
    from reelgate.platform.stack.postgres import ensure_app_login

    with _user_errors():
        applied = upgrade(settings.db_url)
        ensure_app_login(settings)
    click.echo("\n".join(f"applied {name}" for name in applied) or "the database is up to date")


# -- processes -----------------------------------------------------------------


@click.command()
@click.option("--color", type=COLOR, default="blue", show_default=True)
@click.option("--port", type=int, default=None, help="Default: REELGATE_PORT_BASE + 1 (blue) or + 2 (green).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--processes", type=int, default=None, help="API processes sharing the port. Default: the api_processes setting."
)
def serve(color: str, port: int | None, host: str, processes: int | None) -> None:
    """Run one color's API."""
    import os

    import uvicorn

    from reelgate.platform.observability import configure_logging
    from reelgate.platform.processes import run_forked

    os.environ["REELGATE_COLOR"] = color
    get_settings.cache_clear()
    settings = _settings()
    configure_logging()
    config = uvicorn.Config(
        "reelgate.platform.app:create_app",
        factory=True,
        host=host,
        port=port or settings.port(color),
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
        # Longer than a router keeps an idle connection to us (nginx 60 s; HAProxy purges sooner), so the router,
        # not the API, closes it: a request never meets a connection the API is closing.
        timeout_keep_alive=75,
    )
    count = processes or settings.api_processes
    if settings.api_server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "reelgate.platform.app:create_app_behind_router",
            factory=True,
            address=host,
            port=port or settings.port(color),
            interface=Interfaces.ASGI,
            workers=count,
            log_access=False,
        ).serve()
        return
    if count <= 1:
        uvicorn.Server(config).run()
        return
    # The app is loaded before the socket is bound, as one uvicorn process does it: until it is ready
    # the port refuses connections, so the router's health check sees a restarting API as down instead
    # of holding connections in the backlog; the children then start without importing it again.
    config.load()
    run_forked(count, config.bind_socket(), lambda sock: uvicorn.Server(config).run(sockets=[sock]))


@click.command()
@click.option("--color", type=COLOR, default="blue", show_default=True)
def worker(color: str) -> None:
    """Run one color's worker: it consumes only `transcode.<color>`."""
    import os

    from reelgate.platform.jobs import run_worker
    from reelgate.platform.observability import configure_logging

    os.environ["REELGATE_COLOR"] = color
    get_settings.cache_clear()
    _settings()
    configure_logging()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    asyncio.run(run_worker(color))
