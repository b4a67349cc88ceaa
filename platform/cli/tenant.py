"""`reelgate tenant`: tenants and their API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import click

from reelgate.contract import answers
from reelgate.platform.cli.common import JSON_OPTION, CliFailure, cli_actor, cli_settings, emit, user_errors
from reelgate.platform.http.auth import KEYS_CHANNEL
from reelgate.platform.settings import Settings


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

    settings = cli_settings()
    actor, address = cli_actor()
    with user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        try:
            tenant_id, key = repo.create_tenant_sync(conn, name, rate_limit)
        except psycopg.errors.UniqueViolation:
            raise CliFailure("tenant_exists", f"a tenant named {name!r} already exists") from None
        repo.record_sync(
            conn, "key.created", actor=actor, address=address, tenant_id=tenant_id, tenant=name, prefix=key[:8]
        )
    if as_json:
        emit(True, answers.TenantCreated(name=name, id=str(tenant_id), api_key=key), "")
        return
    click.echo(f"tenant {name} created (id {tenant_id}); its API key follows and is shown only once:", err=True)
    click.echo(key)


@tenant.command("list")
def tenant_list() -> None:
    """Every tenant: name, videos, storage used, rate limit, created."""
    import psycopg

    from reelgate.platform import repo
    from reelgate.platform.web.formats import size

    settings = cli_settings()
    with user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
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

    import psycopg

    from reelgate.platform import repo
    from reelgate.platform.pipeline.media import MediaStore

    settings = cli_settings()
    actor, address = cli_actor()
    with user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        deleted = repo.delete_tenant_sync(conn, name)
        if deleted is not None:
            repo.record_sync(conn, "tenant.deleted", actor=actor, address=address, tenant=name, videos=len(deleted[0]))
    if deleted is None:
        raise CliFailure("no_such_tenant", f"there is no tenant named {name!r}")
    video_ids, folders = deleted
    media = MediaStore(settings.media, settings.media_grace)
    for video_id in video_ids:
        media.remove_video_files(video_id)
    media.discard(folders)
    emit(
        as_json,
        answers.TenantDeleted(name=name, videos=len(video_ids), rendition_sets=len(folders)),
        f"tenant {name} deleted, with {len(video_ids)} video(s) and {len(folders)} set(s) of renditions",
    )


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

    settings = cli_settings()
    actor, address = cli_actor()
    with user_errors(), psycopg.connect(settings.db_url, connect_timeout=5) as conn, conn.transaction():
        tenant_id = _tenant_id(conn, name)
        key_id, key = repo.create_key_sync(conn, tenant_id)
        repo.record_sync(
            conn, "key.created", actor=actor, address=address, tenant_id=tenant_id, tenant=name, prefix=key[:8]
        )
    if as_json:
        emit(True, answers.KeyCreated(name=name, key_id=str(key_id), prefix=key[:8], api_key=key), "")
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

    settings = cli_settings()
    with user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
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
        emit(True, answers.KeyList(name=name, keys=infos), "")
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

    settings = cli_settings()
    actor, address = cli_actor()
    with user_errors(), psycopg.connect(settings.db_url, connect_timeout=5) as conn, conn.transaction():
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
    emit(as_json, revoked, f"key {live[0].prefix} of {name} revoked")
