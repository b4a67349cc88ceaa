"""`reelgate stack`: the local stack (up, down, status, a color, the router's config)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.platform.cli.common import COLOR, JSON_OPTION, cli_settings, emit, user_errors

if TYPE_CHECKING:
    from reelgate.platform.stack import PartStatus


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

    settings = cli_settings()
    with user_errors():
        parts = stack_mod.up(settings, progress=lambda m: click.echo(f"... {m}", err=True))
    _print_status(parts)


@stack.command("down")
def stack_down() -> None:
    """Stop everything `up` started (idempotent)."""
    from reelgate.platform import stack as stack_mod

    settings = cli_settings()
    with user_errors():
        stopped = stack_mod.down(settings)
    click.echo("stack stopped" if stopped else "stack was not running")


@stack.command("status")
def stack_status() -> None:
    """The router URL first, then each part with its URL, PID and health."""
    from reelgate.platform import stack as stack_mod

    settings = cli_settings()
    with user_errors():
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

    settings = cli_settings()
    with user_errors():
        if action == "start":
            part = stack_mod.start_color(settings, color, venv)
            emit(
                as_json,
                answers.ColorStarted(color=contract.color(color), url=part.url, pid=part.pid),
                f"{color} ready at {part.url} (pid {part.pid})",
            )
        else:
            moved = stack_mod.stop_color(settings, color, drain_to)
            text = f"{color} stopped" + (f"; {moved} waiting jobs moved to {drain_to}" if drain_to else "")
            drained = contract.color(drain_to) if drain_to else None
            emit(as_json, answers.ColorStopped(color=contract.color(color), moved_jobs=moved, drain_to=drained), text)


@stack.command("router-config")
@click.argument("live", type=COLOR)
@JSON_OPTION
def stack_router_config(live: str, as_json: bool) -> None:
    """Record LIVE as the live color after a confirmed switch, and regenerate both routers' configs from it.

    Writes `var/live_color`, `var/haproxy.cfg` and nginx's `upstream.conf`, so that a reload or a
    `stack down` and `stack up` keep serving LIVE. --json prints `{"live", "files"}`.
    """
    from reelgate.platform import stack as stack_mod

    settings = cli_settings()
    with user_errors():
        paths = stack_mod.write_router_config(settings, live)
    emit(
        as_json,
        answers.RouterConfig(live=contract.color(live), files=[str(p) for p in paths]),
        f"live color {live}: " + ", ".join(map(str, paths)),
    )
