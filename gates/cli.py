"""The `reelgate` console script.

The root group owns no commands of its own: every room registers its command
groups through the `reelgate.commands` entry-point group, so no room imports
another to reach its commands.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

EXIT_USAGE = 2
EXIT_INTERNAL = 3


class RoomCommands(click.Group):
    """A click group whose subcommands come from entry points, loaded lazily."""

    def _entry_points(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group="reelgate.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        ep = self._entry_points().get(cmd_name)
        if ep is None:
            return None
        loaded = ep.load()  # type: ignore[attr-defined]
        if not isinstance(loaded, click.Command):
            raise click.ClickException(f"entry point {cmd_name!r} is not a click command")
        return loaded


@click.group(cls=RoomCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reelgate")
def root() -> None:
    """reelgate: a video platform and the gates that decide its releases."""


def main() -> None:
    """Run the CLI; a user never sees a traceback, only what went wrong."""
    try:
        rv = root.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: say what broke, never a traceback
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    # In non-standalone mode click returns the code of ctx.exit(code).
    sys.exit(rv if isinstance(rv, int) else 0)
