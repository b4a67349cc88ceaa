"""The headers every response carries, whatever answered it (a handler, an error, a 404, the schema).

The pages set their own, stricter set (`web.SECURITY_HEADERS`). Everything else gets nosniff, and
the API (which never serves HTML) a CSP that allows nothing and may not be framed. `/v1` answers
hold a tenant's data, so they are not stored by any cache unless the handler chose a policy
(the media files do: `private`).
"""

from __future__ import annotations

from litestar.types import Message, Scope

NOSNIFF = (b"x-content-type-options", b"nosniff")
API = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
NO_STORE = (b"cache-control", b"no-store")


def with_baseline_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus whichever of the baseline ones the response does not set itself."""
    have = {name.lower() for name, _ in headers}
    wanted = [NOSNIFF]
    if path.startswith(("/v1/", "/health/", "/metrics")) or path == "/v1":
        wanted += API
        if path.startswith("/v1"):
            wanted.append(NO_STORE)
    return headers + [header for header in wanted if header[0] not in have]


async def baseline_headers(message: Message, scope: Scope) -> None:
    """Litestar's `before_send` hook: it sees every response, a 404 for an unknown path included
    (middleware runs only on matched routes)."""
    if message["type"] == "http.response.start":
        message["headers"] = with_baseline_headers(scope["path"], list(message.get("headers", [])))
