"""`reelgate backup` (run, list, verify) and `reelgate restore`: the stack's backups (docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from reelgate.platform.cli.common import cli_settings, user_errors


@click.group()
def backup() -> None:
    """Backups of the database (pgBackRest, WAL archived continuously), media and secrets (restic)."""


@backup.command("run")
@click.option(
    "--media-only", is_flag=True,
    help="Snapshot the media and secrets alone (the WAL archive keeps the database current between base backups).",
)  # fmt: skip
def backup_run(media_only: bool) -> None:
    """Back everything up now and check it (timers run this: docs/operations.md)."""
    from reelgate.platform import backup as backups

    settings = cli_settings()
    with user_errors():
        done = backups.run(settings, media_only=media_only)
    database = "" if media_only else f"database {done.database_type} backup {done.database}, "
    snapshots = f"media snapshot {done.media_snapshot}, secrets snapshot {done.secrets_snapshot}"
    click.echo(f"{database}{snapshots}, in {done.seconds:g} s")


@backup.command("list")
def backup_list() -> None:
    """The database's backups and archive, and the media and secrets snapshots."""
    from reelgate.platform import backup as backups

    settings = cli_settings()
    with user_errors():
        found = backups.listing(settings)
    for b in found["database"]:
        click.echo(f"database  {b['label']:<28} {b['type']:<5} {b['stop']:%Y-%m-%d %H:%M:%S}  "
                   f"{b['size'] / 1e6:8.1f} MB  reelgate {b['version']}")  # fmt: skip
    click.echo(f"archive   WAL {found['archive']['min'] or '-'} .. {found['archive']['max'] or '-'}")
    for name in ("media", "secrets"):
        for s in found[name]:
            click.echo(f"{name:<9} {s['short_id']:<28} {s['time'][:19].replace('T', ' ')}")
    if not found["database"]:
        click.echo("no database backup yet: `reelgate backup run`", err=True)


@backup.command("verify")
def backup_verify() -> None:
    """Prove the backups readable: pgBackRest's verify and restic's check."""
    from reelgate.platform import backup as backups

    settings = cli_settings()
    with user_errors():
        for line in backups.verify(settings):
            click.echo(line)


@click.command()
@click.option(
    "--to", "to", default="latest", show_default=True,
    help="`latest` (the newest archived transaction) or an ISO 8601 time (`2026-12-08T10:15:00Z`).",
)  # fmt: skip
@click.option("--yes", is_flag=True, help="Do not ask: the stack's database and media are replaced.")
def restore(to: str, yes: bool) -> None:
    """Put the stack back as it was: database to the point in time, media, secrets; then start it."""
    from reelgate.platform import backup as backups
    from reelgate.platform import stack as stack_mod

    when = None
    if to != "latest":
        try:
            when = datetime.fromisoformat(to.replace("Z", "+00:00"))
        except ValueError:
            raise click.UsageError(f"--to takes `latest` or an ISO 8601 time, not {to!r}") from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if not yes:
        click.confirm("This stops the stack and replaces its database and media. Go on?", abort=True)
    settings = cli_settings()
    with user_errors():
        done = backups.restore(
            settings, when, stop=lambda: stack_mod.down(settings),
            start=lambda: stack_mod.up(settings, progress=lambda m: click.echo(f"... {m}", err=True)),
        )  # fmt: skip
    checked = done.media
    click.echo(f"media check: {checked.references} files referred to, {checked.untrashed} put back from the trash, "
               f"{checked.reprocessed} video(s) queued again, {checked.failed} lost (failed), "
               f"{checked.captions_dropped} caption(s) dropped, {checked.orphans} orphan(s) to the trash")  # fmt: skip
    click.echo(f"restored to {done.to}: database backup {done.database_backup} and its archive, media snapshot "
               f"{done.media_snapshot}; the stack answers after {done.seconds:g} s")  # fmt: skip
