"""`reelgate db`: the database's migrations."""

from __future__ import annotations

import click

from reelgate.platform.cli.common import cli_settings, user_errors


@click.group()
def db() -> None:
    """The platform's database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (procrastinate's and the platform's, expand-then-contract)."""
    from reelgate.platform.infra.migrate import upgrade

    settings = cli_settings()
    from reelgate.platform.stack.postgres import ensure_app_login

    with user_errors():
        applied = upgrade(settings.db_url)
        ensure_app_login(settings)
    click.echo("\n".join(f"applied {name}" for name in applied) or "the database is up to date")
