"""`create_app()`: the platform's Litestar application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusController
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from psycopg_pool import AsyncConnectionPool

from reelgate.platform.http.auth import KeyCache
from reelgate.platform.http.captions import CaptionController
from reelgate.platform.http.health import HealthController
from reelgate.platform.http.playback import PlaybackController
from reelgate.platform.http.videos import VideoController
from reelgate.platform.infra.cache import VideoCache
from reelgate.platform.infra.egress import EgressMeter
from reelgate.platform.infra.headers import baseline_headers
from reelgate.platform.infra.kv import KV
from reelgate.platform.infra.observability import request_id_middleware
from reelgate.platform.pipeline.jobs import app as jobs_app
from reelgate.platform.pipeline.media import MediaStore
from reelgate.platform.settings import Settings, get_settings
from reelgate.platform.web import SECURITY_HEADERS, STATIC, TEMPLATES, formats, static_url, static_version
from reelgate.platform.web.csrf import CSRF_COOKIE, CSRF_HEADER, StrictCSRFMiddleware
from reelgate.platform.web.errors import page_exception_handler, page_internal_error_handler
from reelgate.platform.web.pages import Pages, PublicPages
from reelgate.platform.web.session import session_secret


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False  # Prometheus' text format, not part of the API


def _secure_headers(response: Response[object]) -> Response[object]:
    response.headers.update(SECURITY_HEADERS)
    return response


def _template_globals(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals["static"] = static_url
    engine.engine.filters.update(
        size=formats.size,
        duration=formats.duration,
        minutes=formats.minutes,
        money=formats.money,
        when=formats.when,
        rate=formats.rate,
    )


def _web(secret: str) -> list[Router]:
    """The pages (with CSRF on their forms) and their versioned, year-long-cacheable assets.

    CSRF is middleware on the pages' router only: /v1, /health and /metrics never pass through it.
    """
    # HttpOnly: the upload script takes the token from the page's meta tag, never from the cookie.
    csrf = CSRFConfig(
        secret=secret, cookie_name=CSRF_COOKIE, header_name=CSRF_HEADER, cookie_samesite="lax", cookie_httponly=True
    )
    pages = Router(
        path="/",
        route_handlers=[PublicPages, Pages],
        after_request=_secure_headers,
        middleware=[DefineMiddleware(StrictCSRFMiddleware, config=csrf)],
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"/static/{static_version()}",
        directories=[STATIC],
        after_request=_secure_headers,
        cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True, immutable=True),
    )
    return [pages, static]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    secret = session_secret(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The pool opens without waiting: the API starts even while PostgreSQL is down,
        # and /health/ready says so until it is back.
        # No `check` on checkout: db.tenant_db replaces a connection PostgreSQL dropped (a restart)
        # when its first round trip fails, instead of spending a round trip on every request.
        pool = AsyncConnectionPool(
            settings.app_db_url,
            min_size=2,
            max_size=settings.db_pool_size,
            open=False,
            kwargs={"autocommit": True},
            timeout=10,
        )
        await pool.open(wait=False)
        kv = KV(settings.app_kv_url, settings.valkey_timeout_s)
        cache = VideoCache(kv)
        egress = EgressMeter(pool)
        app.state.update(
            settings=settings,
            pool=pool,
            kv=kv,
            cache=cache,
            media=MediaStore(settings.media, settings.media_grace),
            key_cache=KeyCache(),
            egress=egress,
        )
        listener = asyncio.create_task(cache.listen(app.state.key_cache))
        flusher = asyncio.create_task(egress.run())
        try:
            async with jobs_app.open_async(pool):
                yield
        finally:
            listener.cancel()
            flusher.cancel()
            await egress.flush()
            await kv.close()
            await pool.close()

    return Litestar(
        route_handlers=[
            HealthController,
            VideoController,
            CaptionController,
            PlaybackController,
            MetricsController,
            *_web(secret),
        ],
        state=State({"session_secret": secret}),
        template_config=TemplateConfig(
            directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_template_globals
        ),
        lifespan=[lifespan],
        middleware=[request_id_middleware],  # also counts and times requests for /metrics
        before_send=[baseline_headers],
        exception_handlers={HTTPException: page_exception_handler, Exception: page_internal_error_handler},
        openapi_config=OpenAPIConfig(title="reelgate platform", version="1", path="/schema"),
        request_max_body_size=1024 * 1024,
        debug=False,
        logging_config=None,  # JSON logging is set up by `reelgate serve`
    )


def create_app_behind_router() -> Any:
    """The app with the router's X-Forwarded-* headers applied, for servers that do not apply them
    themselves (granian): the client's address and scheme, trusted from 127.0.0.1 only."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    app: Any = create_app()  # Litestar and uvicorn type the ASGI callables differently
    return ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")
