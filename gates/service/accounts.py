"""The release dashboard's people and their sessions.

An account is made with the CLI and is a `viewer` (reads every page) or an `approver` (also approves a waiting
release). Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second recommendation). A
session is a random 256-bit id in an HttpOnly cookie; the table keeps its SHA-256 and a CSRF token for the
session's forms, and it ends after `SESSION_HOURS` or on sign-out."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reelgate.contract.tokens import hash_secret

Role = Literal["viewer", "approver"]
SESSION_HOURS = 8
HASHER = PasswordHasher()
MIN_PASSWORD = 12


class AccountError(Exception):
    """An account command that cannot be done: a name taken, a short password, an unknown name."""


class Person(msgspec.Struct, frozen=True):
    """Who is signed in, and what they may do."""

    name: str
    role: Role
    csrf: str

    @property
    def may_act(self) -> bool:
        return self.role == "approver"


def create_account(conn: Any, name: str, password: str, role: Role, created_by: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    row = conn.execute(
        "INSERT INTO reelgate_gates.accounts (name, password_hash, role, created_by) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (name) DO NOTHING RETURNING name",
        (name, HASHER.hash(password), role, created_by),
    ).fetchone()
    if row is None:
        raise AccountError(f"an account named {name!r} exists")


def disable_account(conn: Any, name: str) -> None:
    row = conn.execute(
        "UPDATE reelgate_gates.accounts SET disabled_at = now() WHERE name = %s AND disabled_at IS NULL RETURNING name",
        (name,),
    ).fetchone()
    if row is None:
        raise AccountError(f"there is no active account named {name!r}")
    conn.execute("DELETE FROM reelgate_gates.sessions WHERE account = %s", (name,))


def list_accounts(conn: Any) -> list[tuple[str, str, bool]]:
    rows = conn.execute(
        "SELECT name, role, disabled_at IS NOT NULL AS disabled FROM reelgate_gates.accounts ORDER BY name"
    ).fetchall()
    return [(r["name"], r["role"], r["disabled"]) for r in rows]


class Sessions:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, args)
            return await cur.fetchone() if cur.description else None

    async def sign_in(self, name: str, password: str) -> str | None:
        """A new session's cookie value for the right password of an active account; None otherwise (the
        same answer, and about the same time, whether the name exists or not)."""
        row = await self._one(
            "SELECT password_hash FROM reelgate_gates.accounts WHERE name = %s AND disabled_at IS NULL", (name,)
        )
        stored = row["password_hash"] if row else _DECOY
        try:
            await asyncio.to_thread(HASHER.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        cookie = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
        await self._one(
            "INSERT INTO reelgate_gates.sessions (id_hash, account, csrf, expires_at) VALUES (%s, %s, %s, %s)",
            (hash_secret(cookie), name, secrets.token_urlsafe(32), expires),
        )
        return cookie

    async def person(self, cookie: str | None) -> Person | None:
        if not cookie:
            return None
        row = await self._one(
            "SELECT a.name, a.role, s.csrf FROM reelgate_gates.sessions s JOIN reelgate_gates.accounts a"
            " ON a.name = s.account WHERE s.id_hash = %s AND s.expires_at > now() AND a.disabled_at IS NULL",
            (hash_secret(cookie),),
        )
        return Person(row["name"], row["role"], row["csrf"]) if row else None

    async def sign_out(self, cookie: str) -> None:
        await self._one("DELETE FROM reelgate_gates.sessions WHERE id_hash = %s", (hash_secret(cookie),))


_DECOY = HASHER.hash(secrets.token_urlsafe(16))
"""Verified against when the name is unknown, so a wrong name costs the same time as a wrong password."""
