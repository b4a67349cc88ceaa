"""Request ids, JSON logs and request metrics: one request id on every log line and response, and
Prometheus counts and durations per route."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any, cast

import msgspec
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import Counter, Histogram

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


REQUESTS = Counter(
    "reelgate_requests", "HTTP requests answered, by method, route and status", ["method", "path", "status_code"]
)
DURATION = Histogram(
    "reelgate_request_duration_seconds",
    "Time to answer an HTTP request, by method, route and status",
    ["method", "path", "status_code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Probes and scrapes would drown the API's own figures.
UNMEASURED = ("/health", "/metrics", "/static/")


class _Series:
    """The labelled children of one (method, route, status): `labels()` takes a lock, so look them up once."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                REQUESTS.labels(method, path, str(status)),
                DURATION.labels(method, path, str(status)),
            )
        children[0].inc()
        children[1].observe(seconds)


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")[:64]
            if incoming.replace("-", "").isalnum():
                return incoming
            break
    return uuid.uuid4().hex


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Per request: the request id (the router's X-Request-ID, or a new one) echoed back and on every
    log line; Prometheus counts and durations by route template (ids never become labels); and an
    access line for what needs a look.

    One pure ASGI layer for all three, so the API's hot path pays for one wrapper, not three.
    """
    series = _Series()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method = cast("HTTPScope", scope)["method"]
        request_id = _incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"]
            if not path.startswith(UNMEASURED):
                series.record(method, scope.get("path_template") or path, status or 500, elapsed)
            # The router logs every request with the same X-Request-ID (var/log/haproxy.log); here a
            # line at INFO is for what needs a look: errors and slow answers. The rest is DEBUG.
            level = logging.DEBUG if status < 400 and elapsed < SLOW_S else logging.INFO
            if access_log.isEnabledFor(level):
                access_log.log(
                    level,
                    "%s %s %s",
                    method,
                    path,
                    status,
                    extra={
                        "fields": {
                            "method": method,
                            "path": path,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "tenant": scope.get("state", {}).get("tenant"),
                        }
                    },
                )
            request_id_var.reset(token)

    return middleware
