"""`create_app()`: the platform's Litestar application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from psycopg_pool import AsyncConnectionPool

from reelgate.platform.auth import KeyCache
from reelgate.platform.cache import VideoCache
from reelgate.platform.errors import http_exception_handler, internal_error_handler
from reelgate.platform.health import HealthController
from reelgate.platform.jobs import app as jobs_app
from reelgate.platform.kv import KV
from reelgate.platform.media import MediaStore
from reelgate.platform.observability import request_id_middleware
from reelgate.platform.settings import Settings, get_settings
from reelgate.platform.videos import VideoController


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False  # Prometheus' text format, not part of the API


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The pool opens without waiting: the API starts even while PostgreSQL is down,
        # and /health/ready says so until it is back.
        pool = AsyncConnectionPool(settings.db_url, min_size=2, max_size=20, open=False,
                                   kwargs={"autocommit": True}, timeout=10)
        await pool.open(wait=False)
        kv = KV(settings.kv_url, settings.valkey_timeout_s)
        cache = VideoCache(kv)
        app.state.update(settings=settings, pool=pool, kv=kv, cache=cache, media=MediaStore(settings.media),
                         key_cache=KeyCache())
        listener = asyncio.create_task(cache.listen())
        try:
            async with jobs_app.open_async(pool):
                yield
        finally:
            listener.cancel()
            await kv.close()
            await pool.close()

    prometheus = PrometheusConfig(app_name="reelgate", prefix="reelgate", group_path=True,
                                  exclude=["/metrics", "/health"])
    return Litestar(
        route_handlers=[HealthController, VideoController, MetricsController],
        lifespan=[lifespan],
        middleware=[prometheus.middleware, request_id_middleware],
        exception_handlers={HTTPException: http_exception_handler, Exception: internal_error_handler},
        openapi_config=OpenAPIConfig(title="reelgate platform", version="1", path="/schema"),
        request_max_body_size=1024 * 1024,
        debug=False,
        logging_config=None,  # JSON logging is set up by `reelgate serve`
    )
