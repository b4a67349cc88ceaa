"""Page sessions: a signed cookie naming the API key a user signed in with.

The cookie holds the key's id, never the key, and is signed (itsdangerous) with
a secret both colors share. Each page request checks that the key is still
valid (through the API's 30 s key cache), so revoking a key ends its sessions.
`/v1` never reads this cookie: it stays Bearer-only.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from uuid import UUID

from itsdangerous import BadSignature, URLSafeTimedSerializer
from litestar import Request, Response
from litestar.datastructures import Cookie, State
from litestar.types import Scope

from reelgate.platform import repo
from reelgate.platform.http.auth import rate_limit
from reelgate.platform.infra.db import connection
from reelgate.platform.infra.errors import ApplicationError
from reelgate.platform.settings import Settings

COOKIE = "reelgate_session"
SALT = "reelgate.session.v1"


class SignInRequired(ApplicationError):
    """A page needs a session; pages answer it with a redirect to the sign-in page."""

    status_code = 401


def session_secret(settings: Settings) -> str:
    """The configured secret, or `var/secrets/session_key`, created once (first writer wins)."""
    if settings.session_secret:
        return settings.session_secret
    path = settings.var / "secrets" / "session_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written whole under a name of its own, then linked into place: the API processes of both
        # colors start together, and one that found the key half-written would sign with another.
        draft = path.with_name(f".session_key.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return Path(path).read_text().strip()


def _signer(state: State) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state.session_secret, salt=SALT)


def scope_over_tls(scope: Scope) -> bool:
    """Served over TLS, here or at the router: uvicorn sets the scheme from the router's
    X-Forwarded-Proto (`proxy_headers`, trusted from 127.0.0.1 only)."""
    return scope.get("scheme") == "https"


def start(request: Request[Any, Any, Any], response: Response[Any], key_id: UUID) -> None:
    value = _signer(request.app.state).dumps(str(key_id))
    response.set_cookie(
        Cookie(
            key=COOKIE,
            value=value,
            path="/",
            httponly=True,
            samesite="lax",
            secure=scope_over_tls(request.scope),
            max_age=request.app.state.settings.session_max_age_s,
        )
    )


def end(response: Response[Any]) -> None:
    response.delete_cookie(COOKIE, path="/")


def signed_in_key(request: Request[Any, Any, Any]) -> UUID | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    state = request.app.state
    try:
        return UUID(_signer(state).loads(raw, max_age=state.settings.session_max_age_s))
    except (BadSignature, ValueError):
        return None  # tampered, expired or from another secret: sign in again


async def page_tenant(request: Request[Any, Any, Any], state: State) -> repo.TenantRow:
    """The signed-in tenant (a dependency of every page behind sign-in), rate-limited like /v1."""
    key_id = signed_in_key(request)
    tenant = None
    if key_id is not None:
        # The API's key cache: a library page loads a dozen thumbnails, each behind this check.
        cached = f"session:{key_id}"
        tenant = state.key_cache.get(cached)
        if tenant is None:
            async with connection(state.pool) as conn:
                tenant = await repo.tenant_for_key_id(conn, key_id)
            if tenant is not None:
                state.key_cache.put(cached, tenant)
    if tenant is None:
        raise SignInRequired("Sign in with your API key to see this page.")
    await rate_limit(state, tenant)
    request.scope["state"]["tenant"] = tenant.name
    request.scope["state"]["actor"] = f"session:{key_id}"
    return tenant
