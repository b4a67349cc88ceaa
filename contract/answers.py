"""What the platform's CLI answers with `--json`, as msgspec Structs: the platform encodes them, and the engine,
the deployers and chaos decode them strictly (an unknown or missing field is an error, not a guess).

A command that fails with `--json` prints a `Failure` on stdout and exits 1: callers act on its `code`,
never on the words of its message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

import msgspec

from reelgate.contract.stack import Color

FailureCode = Literal[
    "no_such_tenant",
    "tenant_exists",
    "no_such_key",
    "ambiguous_key",
    "stack",
    "settings",
    "database_unreachable",
]


class Answer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every `--json` answer."""


class Failure(Answer):
    """A command that could not do what it was asked."""

    error: FailureCode
    message: str
    """The sentence a person reads; callers decide on `error`."""


class ColorStarted(Answer):
    """`stack color start COLOR --json`."""

    color: Color
    url: str
    pid: int | None


class ColorStopped(Answer):
    """`stack color stop COLOR --json`."""

    color: Color
    moved_jobs: int
    drain_to: Color | None


class RouterConfig(Answer):
    """`stack router-config LIVE --json`: the files regenerated for the live color."""

    live: Color
    files: list[str]


class TenantCreated(Answer):
    """`tenant create NAME --json`: the key is in it once, and nowhere else."""

    name: str
    id: str
    api_key: str


class TenantDeleted(Answer):
    """`tenant delete NAME --yes --json`."""

    name: str
    videos: int
    rendition_sets: int


class KeyCreated(Answer):
    """`tenant key create NAME --json`."""

    name: str
    key_id: str
    prefix: str
    api_key: str


class KeyInfo(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyList(Answer):
    """`tenant key list NAME --json`: never the keys themselves."""

    name: str
    keys: list[KeyInfo]


class KeyRevoked(Answer):
    """`tenant key revoke NAME KEY --json`."""

    name: str
    revoked: list[str]


class AuditEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One security event of the audit log (the platform and the engine append them)."""

    at: datetime
    action: str
    tenant: str | None
    actor: str
    address: str | None
    detail: dict[str, Any]


class AuditLog(Answer):
    """`audit --json`: the events asked for, newest first."""

    events: list[AuditEvent]


A = TypeVar("A", bound=Answer)


class AnswerError(ValueError):
    """An answer that is not the one asked for; the message says what was expected and found."""


def encode(answer: Answer) -> str:
    return msgspec.json.encode(answer).decode()


def decode(data: bytes | str, kind: type[A]) -> A | Failure:
    """The answer `kind`, or the Failure the command printed instead; anything else is an AnswerError."""
    text = data.strip() if isinstance(data, bytes) else data.strip().encode()
    try:
        raw = msgspec.json.decode(text)
        if isinstance(raw, dict) and "error" in raw:
            return msgspec.convert(raw, Failure, strict=True)
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.MsgspecError as exc:
        raise AnswerError(f"expected {kind.__name__} as JSON, found {text[:200]!r}: {exc}") from None
