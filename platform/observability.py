"""JSON logs with a request id on every line of a request, and the request id header."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
access_log = logging.getLogger("reelgate.access")
SLOW_S = 0.5


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take X-Request-ID from the router (or make one), echo it, and log one access line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            # The router logs every request with the same X-Request-ID (var/log/haproxy.log); here a
            # line at INFO is for what needs a look: errors and slow answers. The rest is DEBUG.
            elapsed = time.perf_counter() - started
            quiet = status < 400 and elapsed < SLOW_S
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s", scope["method"], scope["path"], status,
                extra={"fields": {"method": scope["method"], "path": scope["path"], "status": status,
                                  "ms": round(elapsed * 1000, 2),
                                  "tenant": scope.get("state", {}).get("tenant")}},
            )
            request_id_var.reset(token)

    return middleware
