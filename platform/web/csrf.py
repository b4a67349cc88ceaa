"""CSRF for the pages: Litestar's double-submit middleware, made stricter, and the same check for the
one route that must stream its body (the upload).

The token rides in the cookie `reelgate_csrf` and comes back in the header `x-csrftoken` or the form.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, CSRFMiddleware, generate_csrf_hash
from litestar.types import ASGIApp, Receive, Scope, Send

from reelgate.platform.infra.errors import ApplicationError
from reelgate.platform.web import session

CSRF_COOKIE = "reelgate_csrf"
CSRF_HEADER = "x-csrftoken"


class CSRFFailed(ApplicationError):
    status_code = 403


CSRF_EXPIRED = "This form has expired. Go back, reload the page and try again."


class StrictCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, saying what went wrong in plain words (its own refusal reads "CSRF token
    verification failed"), refusing a token with non-ASCII characters (403) rather than letting
    `hmac.compare_digest` raise on it (a 500), and marking its cookie Secure over TLS, as the session's is.
    Litestar's `cookie_secure` is one setting for every request, so a request over TLS goes through a
    second instance configured with it."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        super().__init__(app, config)
        self._over_tls = (
            None if config.cookie_secure else StrictCSRFMiddleware(app, replace(config, cookie_secure=True))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._over_tls is not None and session.scope_over_tls(scope):
            await self._over_tls(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as exc:
            if exc.detail != "CSRF token verification failed":
                raise
            raise CSRFFailed(CSRF_EXPIRED) from None

    def _csrf_tokens_match(self, request_csrf_token: str, cookie_csrf_token: str) -> bool:
        if not (request_csrf_token.isascii() and cookie_csrf_token.isascii()):
            return False
        return super()._csrf_tokens_match(request_csrf_token, cookie_csrf_token)


def valid_csrf(request: Request[Any, Any, Any], token: str) -> bool:
    """The double-submit check Litestar's middleware makes, for the one route that must stream."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    secret = request.app.state.session_secret
    if not (token.isascii() and cookie.isascii()) or len(cookie) <= CSRF_SECRET_LENGTH:
        return False
    if not hmac.compare_digest(token, cookie):
        return False
    expected = generate_csrf_hash(token=cookie[:CSRF_SECRET_LENGTH], secret=secret)
    return hmac.compare_digest(cookie[CSRF_SECRET_LENGTH:], expected)
