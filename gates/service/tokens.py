"""Who may ask the gate service: bearer tokens scoped to namespaces.

A token is made once by `reelgate gate token create` and shown once; the table keeps its SHA-256 (as the
platform keeps its API keys, `reelgate.contract.tokens`), its first characters to recognise it by, and the
namespaces it may ask about (`*` for all). A token never appears in a log line or an answer."""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reelgate.contract.tokens import hash_secret, new_secret

TOKEN_PREFIX = "rgt_"


class Caller(msgspec.Struct, frozen=True):
    name: str
    namespaces: tuple[str, ...]

    def may(self, namespace: str) -> bool:
        return "*" in self.namespaces or namespace in self.namespaces


class TokenRow(msgspec.Struct, kw_only=True):
    name: str
    prefix: str
    namespaces: list[str]
    created_by: str
    revoked: bool


class TokenError(Exception):
    """A token command that cannot be done (a name taken, an unknown name)."""


def create_token(conn: Any, name: str, namespaces: list[str], created_by: str) -> str:
    """Make a token and return it: the only time it is ever seen."""
    token = new_secret(TOKEN_PREFIX)
    row = conn.execute(
        "INSERT INTO reelgate_gates.tokens (name, token_hash, prefix, namespaces, created_by)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
        (name, hash_secret(token), token[:8], namespaces, created_by),
    ).fetchone()
    if row is None:
        raise TokenError(f"a token named {name!r} exists; revoke it first or choose another name")
    return token


def revoke_token(conn: Any, name: str) -> None:
    row = conn.execute(
        "UPDATE reelgate_gates.tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL RETURNING name",
        (name,),
    ).fetchone()
    if row is None:
        raise TokenError(f"there is no live token named {name!r} (`reelgate gate token list`)")


def list_tokens(conn: Any) -> list[TokenRow]:
    rows = conn.execute(
        "SELECT name, prefix, namespaces, created_by, revoked_at IS NOT NULL AS revoked"
        " FROM reelgate_gates.tokens ORDER BY created_at"
    ).fetchall()
    return [msgspec.convert(dict(r), TokenRow) for r in rows]


async def caller(pool: AsyncConnectionPool[Any], token: str) -> Caller | None:
    """The live token's holder, or None for an unknown or revoked token."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT name, namespaces FROM reelgate_gates.tokens WHERE token_hash = %s AND revoked_at IS NULL",
            (hash_secret(token),),
        )
        row = await cur.fetchone()
    return Caller(row["name"], tuple(row["namespaces"])) if row else None
