"""`reelgate serve` and `reelgate worker`: the API's processes and a color's worker (what supervisord runs)."""

from __future__ import annotations

import asyncio
import logging

import click

from reelgate.platform.cli.common import COLOR, cli_settings
from reelgate.platform.settings import get_settings


@click.command()
@click.option("--color", type=COLOR, default="blue", show_default=True)
@click.option("--port", type=int, default=None, help="Default: REELGATE_PORT_BASE + 1 (blue) or + 2 (green).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--processes", type=int, default=None, help="API processes sharing the port. Default: the api_processes setting."
)
def serve(color: str, port: int | None, host: str, processes: int | None) -> None:
    """Run one color's API."""
    import os

    import uvicorn

    from reelgate.platform.infra.observability import configure_logging
    from reelgate.platform.infra.processes import run_forked

    os.environ["REELGATE_COLOR"] = color
    get_settings.cache_clear()
    settings = cli_settings()
    configure_logging()
    config = uvicorn.Config(
        "reelgate.platform.app:create_app",
        factory=True,
        host=host,
        port=port or settings.port(color),
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
        # Longer than a router keeps an idle connection to us (nginx 60 s; HAProxy purges sooner), so the router,
        # not the API, closes it: a request never meets a connection the API is closing.
        timeout_keep_alive=75,
    )
    count = processes or settings.api_processes
    if settings.api_server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "reelgate.platform.app:create_app_behind_router",
            factory=True,
            address=host,
            port=port or settings.port(color),
            interface=Interfaces.ASGI,
            workers=count,
            log_access=False,
        ).serve()
        return
    if count <= 1:
        uvicorn.Server(config).run()
        return
    # The app is loaded before the socket is bound, as one uvicorn process does it: until it is ready
    # the port refuses connections, so the router's health check sees a restarting API as down instead
    # of holding connections in the backlog; the children then start without importing it again.
    config.load()
    run_forked(count, config.bind_socket(), lambda sock: uvicorn.Server(config).run(sockets=[sock]))


@click.command()
@click.option("--color", type=COLOR, default="blue", show_default=True)
def worker(color: str) -> None:
    """Run one color's worker: it consumes only `transcode.<color>`."""
    import os

    from reelgate.platform.infra.observability import configure_logging
    from reelgate.platform.pipeline.jobs import run_worker

    os.environ["REELGATE_COLOR"] = color
    get_settings.cache_clear()
    cli_settings()
    configure_logging()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    asyncio.run(run_worker(color))
