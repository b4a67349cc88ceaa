"""What every command group of the platform's CLI shares: `--json` and its answers, failures as one line
(or a `Failure` answer), the settings, the actor the audit log names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.platform.settings import Settings, SettingsError, get_settings

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (for scripts and the engine)."
)


COLOR = click.Choice(contract.COLORS)


def emit(as_json: bool, answer: answers.Answer, text: str) -> None:
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
def user_errors() -> Iterator[None]:
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


def cli_settings() -> Settings:
    with user_errors():
        return get_settings()


def cli_actor() -> tuple[str, str]:
    """Who runs a CLI command and from where, for the audit log."""
    import getpass
    import socket

    return f"cli:{getpass.getuser()}", f"cli@{socket.gethostname()}"
