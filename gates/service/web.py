"""What every page of the dashboard shares: the templates and the page response with its headers, the engine's
records for the pages, who is signed in (a session cookie), and the CSRF check of a form."""

from __future__ import annotations

import asyncio
import hmac
import threading
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import File
from markupsafe import Markup

from reelgate.gates.service.accounts import Person, Sessions
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.store import Store

HERE = Path(__file__).parent
SESSION_COOKIE, CSRF_COOKIE = "reelgate_gate_session", "reelgate_gate_csrf"
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ARTEFACT_HEADERS = {
    # An artefact is what a tool wrote, sometimes from what a scanned site sent: shown as a sandboxed document of
    # its own origin, with no script, so nothing in it can act on the dashboard.
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
TEXT_SUFFIXES = {".log", ".txt", ".xml", ".yaml", ".yml", ".sarif", ".csv", ".md", ".py", ".js"}


class SignInFirst(Exception):
    """A page asked for without a session: the app answers with a redirect to the sign-in form."""


def chart(svg: str) -> Markup:
    """A chart of `gates.charts` for a template: it is SVG whose every text from a release went through
    `html.escape` there, so Jinja must not escape it a second time. The one place the dashboard marks
    markup safe (bandit's B704 is accepted here, in bandit-baseline.yaml, for this reason)."""
    return Markup(svg)


def number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def seconds(total: float) -> str:
    whole = int(total)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


def duration(started: datetime, finished: datetime | None) -> str:
    return "under way" if finished is None else seconds((finished - started).total_seconds())


@cache
def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(number=number, duration=duration, seconds=seconds)
    return env


def render(template: str, **context: Any) -> str:
    return templates().get_template(template).render(**context)


def page(template: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(render(template, **context), status_code=status, media_type="text/html", headers=HEADERS)


class Records:
    """The engine's store for the pages: one sync connection, used from threads one call at a time."""

    def __init__(self, url: str) -> None:
        self.url, self.lock = url, threading.Lock()
        self.store: Store | None = None

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self.store is None:
                self.store = Store(self.url)
            return getattr(self.store, name)(*args, **kwargs)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call, name, *args, **kwargs)


def state_for(service: GateService) -> dict[str, Any]:
    """What the pages keep in the app's state beside the service: its sessions and the engine's records."""
    return {"sessions": Sessions(service.pool), "records": Records(str(service.pool.conninfo))}


def sessions(state: State) -> Sessions:
    found: Sessions = state.sessions
    return found


def records(state: State) -> Records:
    found: Records = state.records
    return found


async def signed_in(request: Request[Any, Any, Any], state: State) -> Person | None:
    return await sessions(state).person(request.cookies.get(SESSION_COOKIE))


async def reader(request: Request[Any, Any, Any], state: State) -> Person:
    """Whoever reads a page: anyone signed in."""
    person = await signed_in(request, state)
    if person is None:
        raise SignInFirst()
    return person


async def acting(request: Request[Any, Any, Any], state: State, data: dict[str, str]) -> Person:
    """Who sends this form: signed in, and with the session's CSRF token."""
    person = await signed_in(request, state)
    if person is None:
        raise Refused(401, "sign in first: /dashboard/sign-in")
    if not hmac.compare_digest(person.csrf, data.get("_csrf", "")):
        raise Refused(403, "the form has expired: reload the page and try again")
    return person


def approver(person: Person, doing: str) -> None:
    if not person.may_act:
        raise Refused(403, f"{person.name} is a viewer; {doing} needs the approver role")


def reason_of(data: dict[str, str], doing: str) -> str:
    reason = data.get("reason", "").strip()[:500]
    if not reason:
        raise Refused(400, f"say why: {doing} needs a reason")
    return reason


def with_cookie(response: Response[Any], request: Request[Any, Any, Any], name: str, value: str) -> Response[Any]:
    """The dashboard's cookies: HttpOnly, SameSite=Strict, on its own path, Secure behind TLS."""
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/dashboard")
    return response


def artefact(folder: Path, relative: str) -> File:
    """A file under `folder` (a release's or a run's), never outside it, as a sandboxed document."""
    base = folder.resolve()
    path = (base / relative.lstrip("/")).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise Refused(404, f"no file {relative!r} here")
    media = "text/plain; charset=utf-8" if path.suffix in TEXT_SUFFIXES else None
    return File(path, media_type=media, content_disposition_type="inline", headers=ARTEFACT_HEADERS)


def file_link(folder: Path, artefact_path: str, prefix: str) -> str | None:
    """The dashboard's link to an artefact a gate wrote, when it lies under the release's (or run's) folder."""
    try:
        relative = Path(artefact_path).resolve().relative_to(folder.resolve())
    except ValueError:
        return None
    return f"{prefix}/files/{relative.as_posix()}"
