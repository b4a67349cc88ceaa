"""The gate service's HTTP routes, designed from what the controllers do (docs/gate-service.md cites the
lines): the verdict always travels in a 2xx body as an object at the fixed path `$.run`, for Argo Rollouts'
`web` metric, Kargo's verification and `http` step, and `reelgate gate wait`; Flagger's webhooks have their
own routes (`reelgate.gates.service.flagger`) because Flagger reads only the status code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.response import File, Redirect

from reelgate.gates.service import dashboard, web
from reelgate.gates.service.engine import GateService, Refused, log
from reelgate.gates.service.flagger import flagger_hook
from reelgate.gates.service.runs import RunAnswer, RunRequest, answer


def bearer(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _ask(data: RunRequest, request: Request[Any, Any, Any], state: State) -> RunAnswer:
    service: GateService = state.service
    who = await service.authorize(bearer(request), data.namespace)
    row = await service.start(data, who)
    if row["state"] == "expired":  # a verdict never came: an error for the caller, not a verdict
        raise Refused(410, f"{row['reason']} (the run of {'/'.join(data.key)} stays readable at GET)")
    return answer(row, row["now"])


@post("/v1/runs", status_code=200)
async def create_run(data: RunRequest, request: Request[Any, Any, Any], state: State) -> RunAnswer:
    """Start the run of (namespace, name, revision), or attach to the one that exists; answers at once with
    where it stands. Argo's `web` metric and Kargo's `http` step send this on every poll."""
    return await _ask(data, request, state)


@put("/v1/runs", status_code=200)
async def put_run(data: RunRequest, request: Request[Any, Any, Any], state: State) -> RunAnswer:
    """The same as POST (Argo's `web` metric allows either)."""
    return await _ask(data, request, state)


async def _read(namespace: str, name: str, revision: str, request: Request[Any, Any, Any], state: State) -> Any:
    service: GateService = state.service
    await service.authorize(bearer(request), namespace)
    row = await service.runs.poll(namespace, name, revision)
    if row is None:
        raise Refused(404, f"no run of {namespace}/{name} at {revision}")
    return row


@get("/v1/runs/{namespace:str}/{name:str}/{revision:str}")
async def read_run(
    namespace: str, name: str, revision: str, request: Request[Any, Any, Any], state: State
) -> RunAnswer:
    """Where the run stands: `running`, `finished` with its verdict, reason and checks, or `expired`."""
    row = await _read(namespace, name, revision, request, state)
    return answer(row, row["now"])


@get("/v1/runs/{namespace:str}/{name:str}/{revision:str}/report")
async def read_report(namespace: str, name: str, revision: str, request: Request[Any, Any, Any], state: State) -> File:
    """The run's HTML report, the same report as the CLI's for a release."""
    await _read(namespace, name, revision, request, state)
    service: GateService = state.service
    path = service.folder((namespace, name, revision)) / "reports" / "report.html"
    if not path.is_file():
        raise Refused(404, f"the run of {namespace}/{name} at {revision} has no report (yet)")
    return File(path, media_type="text/html", content_disposition_type="inline")


@get("/metrics", media_type="text/plain; version=0.0.4")
async def metrics(state: State) -> bytes:
    service: GateService = state.service
    return service.metrics.render(await service.runs.counts(), len(service.tasks))


@get("/health")
async def health(state: State) -> dict[str, Any]:
    service: GateService = state.service
    return {"status": "ok", "policy": service.loaded.policy.name, "time": datetime.now(UTC).isoformat()}


def _answer(request: Request[Any, Any, Any], status: int, message: str, headers: dict[str, str] | None = None,
            extra: Any = None) -> Response[Any]:  # fmt: skip
    """A refusal in the words its reader reads: a page for a person on the dashboard, plain text for Flagger
    (its event shows the body), JSON for the rest."""
    if request.url.path.startswith("/dashboard"):
        return web.page("error.html", status, message=message, person=None)
    if request.url.path.startswith("/v1/flagger/"):
        return Response(message, status_code=status, media_type="text/plain", headers=headers)
    body = {"status_code": status, "detail": message} | ({"extra": extra} if extra else {})
    return Response(body, status_code=status, headers=headers)


def refused(request: Request[Any, Any, Any], exc: Refused) -> Response[Any]:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return _answer(request, exc.status, exc.message, headers)


def sign_in_first(_request: Request[Any, Any, Any], _exc: web.SignInFirst) -> Response[Any]:
    return Redirect("/dashboard/sign-in", status_code=303)


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else: its HTTP status if it has one, a sentence without a stack trace if not."""
    if isinstance(exc, HTTPException):  # Litestar's own: a 400 with what was wrong, a 404, a 405
        return _answer(request, exc.status_code, exc.detail, extra=exc.extra)
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return _answer(request, 500, f"internal error: {type(exc).__name__}")


def create_app(service: GateService) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await service.pool.open()
        sweeper = asyncio.create_task(service.sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            for task in list(service.tasks.values()):
                task.cancel()
            await asyncio.gather(sweeper, *service.tasks.values(), return_exceptions=True)
            await service.runs.abandon()  # a caller hears "lost" at once, not "running" for another minute
            await service.pool.close()

    return Litestar(
        route_handlers=[create_run, put_run, read_run, read_report, flagger_hook, metrics, health, *dashboard.ROUTES],
        state=State({"service": service, **web.state_for(service)}),
        lifespan=[lifespan],
        exception_handlers={Refused: refused, web.SignInFirst: sign_in_first, Exception: unexpected},
    )
