"""`reelgate audit`: the security events of the audit log."""

from __future__ import annotations

import click

from reelgate.contract import answers
from reelgate.platform.cli.common import JSON_OPTION, cli_settings, emit, user_errors

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
    settings = cli_settings()
    with user_errors(), psycopg.connect(settings.db_url, autocommit=True, connect_timeout=5) as conn:
        events = repo.events_sync(conn, tenant_name, action, start, limit)
    if as_json:
        emit(True, answers.AuditLog(events=list(events)), "")
        return
    for e in events:
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        click.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.action:<16} {e.tenant or '-':<20} {e.actor:<24} "
            f"{e.address or '-':<16} {detail}"
        )
    if not events:
        click.echo("no audit events match", err=True)
