"""Bearer secrets, made and hashed one way for the whole project: the platform's API keys and the gate
service's tokens. A secret has 256 bits of entropy, so a plain SHA-256 of it is as safe to store as a slow
hash (nobody can guess through the space), and a lookup by hash is one indexed read."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """`prefix` then 43 URL-safe characters (32 random bytes); the prefix says what the secret opens."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
