"""The release dashboard, served by the gate service under `/dashboard`: every release (the CLI's and the
service's runs) with filters and pages, one release with each gate's checks, findings and timeline, and
approval of a waiting release by a signed-in approver. Server-rendered, no script; every form carries its
session's CSRF token; the actor of an action is the signed-in account, in the audit log with the reason."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import threading
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import File, Redirect

from reelgate.gates.service.accounts import Person, Sessions
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.store import FINAL, Store, StoreError

log = logging.getLogger("reelgate.gates.dashboard")
HERE = Path(__file__).parent
SESSION_COOKIE, CSRF_COOKIE = "reelgate_gate_session", "reelgate_gate_csrf"
PER_PAGE = 25
STATES = ("planned", "deploying", "gating", "awaiting_approval", "switching", "watching", *FINAL, "running", "expired")
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _duration(row: Any) -> str:
    if row.finished is None:
        return "under way"
    seconds = int((row.finished - row.started).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def page(template: str, status: int = 200, **context: Any) -> Response[str]:
    html = templates().get_template(template).render(number=_number, duration=_duration, **context)
    return Response(html, status_code=status, media_type="text/html", headers=HEADERS)


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


def _sessions(state: State) -> Sessions:
    service: GateService = state.service
    if "sessions" not in state:
        state.sessions = Sessions(service.pool)
        state.records = Records(str(service.pool.conninfo))
    sessions: Sessions = state.sessions
    return sessions


async def _person(request: Request[Any, Any, Any], state: State) -> Person | None:
    return await _sessions(state).person(request.cookies.get(SESSION_COOKIE))


def _with_cookie(response: Response[Any], request: Request[Any, Any, Any], name: str, value: str) -> Response[Any]:
    """The dashboard's cookies: HttpOnly, SameSite=Strict, on its own path, Secure behind TLS."""
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/dashboard")
    return response


def _day(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC) if text else None
    except ValueError:
        raise Refused(400, f"not a date (YYYY-MM-DD): {text!r}") from None


@get("/dashboard/sign-in")
async def sign_in_form(request: Request[Any, Any, Any]) -> Response[str]:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page("sign_in.html", csrf=csrf, name="", error="", person=None)
    return _with_cookie(response, request, CSRF_COOKIE, csrf)


@post("/dashboard/sign-in")
async def sign_in(
    request: Request[Any, Any, Any],
    state: State,
    data: dict[str, str] = FORM,
) -> Response[Any]:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, data.get("_csrf", "")):
        raise Refused(403, "the form has expired: open the sign-in page again")
    name = data.get("name", "")[:200]
    cookie = await _sessions(state).sign_in(name, data.get("password", ""))
    if cookie is None:
        return page("sign_in.html", 401, csrf=expected, name=name, error="Wrong account or password.", person=None)
    return _with_cookie(Redirect("/dashboard", status_code=303), request, SESSION_COOKIE, cookie)


async def _acting(request: Request[Any, Any, Any], state: State, data: dict[str, str]) -> Person:
    """Who sends this form: signed in, and with the session's CSRF token."""
    person = await _person(request, state)
    if person is None:
        raise Refused(401, "sign in first: /dashboard/sign-in")
    if not hmac.compare_digest(person.csrf, data.get("_csrf", "")):
        raise Refused(403, "the form has expired: reload the page and try again")
    return person


@post("/dashboard/sign-out")
async def sign_out(
    request: Request[Any, Any, Any],
    state: State,
    data: dict[str, str] = FORM,
) -> Response[Any]:
    await _acting(request, state, data)  # signed in, with the CSRF token
    await _sessions(state).sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response: Response[Any] = Redirect("/dashboard/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@get("/dashboard")
async def releases(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    person = await _person(request, state)
    if person is None:
        return Redirect("/dashboard/sign-in", status_code=303)
    query = request.query_params
    wanted = query.get("state") or None
    if wanted is not None and wanted not in STATES:
        raise Refused(400, f"no state {wanted!r}; the states are {', '.join(STATES)}")
    since, until = query.get("since", ""), query.get("until", "")
    try:
        number = max(1, int(query.get("page", "1")))
    except ValueError:
        raise Refused(400, "page must be a number") from None
    rows, total = await state.records.call(
        "history_with_runs", PER_PAGE, (number - 1) * PER_PAGE, wanted, _day(since), _day(until)
    )

    def link(to: int) -> str:
        kept = {k: v for k, v in (("state", wanted or ""), ("since", since), ("until", until)) if v}
        return "/dashboard?" + urlencode({**kept, "page": to})

    pages = max(1, -(-total // PER_PAGE))
    return page(
        "releases.html", person=person, rows=rows, total=total, page=number, pages=pages, link=link,
        states=STATES, state=wanted or "", since=since, until=until,
    )  # fmt: skip


@get("/dashboard/releases/{release_id:str}")
async def release_page(release_id: str, request: Request[Any, Any, Any], state: State) -> Response[Any]:
    person = await _person(request, state)
    if person is None:
        return Redirect("/dashboard/sign-in", status_code=303)
    try:
        found = await state.records.call("get", release_id)
    except StoreError as exc:
        raise Refused(404, str(exc)) from None
    results = await state.records.call("results", release_id)
    timeline = await state.records.call("timeline", release_id)
    return page("release.html", person=person, release=found, results=results, timeline=timeline)


@post("/dashboard/releases/{release_id:str}/approve")
async def approve(
    release_id: str,
    request: Request[Any, Any, Any],
    state: State,
    data: dict[str, str] = FORM,
) -> Response[Any]:
    """An approver approves a waiting release: the switch and the watch then run in this process."""
    person = await _acting(request, state, data)
    if not person.may_act:
        raise Refused(403, f"{person.name} is a viewer; approving needs the approver role")
    reason = data.get("reason", "").strip()[:500]
    if not reason:
        raise Refused(400, "say why: an approval needs a reason")
    found = await state.records.call("get", release_id)
    if found.state != "awaiting_approval":
        raise Refused(409, f"release {release_id} is {found.state}, not awaiting approval")
    service: GateService = state.service
    address = f"dashboard@{request.client.host if request.client else '?'}"
    task = asyncio.create_task(_approve(service, release_id, person.name, reason, address))
    service.background.add(task)
    task.add_done_callback(service.background.discard)
    return Redirect(f"/dashboard/releases/{release_id}", status_code=303)


async def _approve(service: GateService, release_id: str, who: str, reason: str, address: str) -> None:
    from reelgate.gates.manager import hooks
    from reelgate.gates.policy import load_policy
    from reelgate.gates.release import ReleaseManager
    from reelgate.gates.settings import engine_settings

    settings = engine_settings()
    store = Store(settings.db_url)
    manager = ReleaseManager(settings, store, service.registry, hooks(), log.info)
    try:
        reg = service.registry
        release = store.get(release_id)
        loaded = load_policy(release.policy_file, reg.gates, reg.routers, reg.deployers, reg.notifiers)
        await manager.approve(release_id, loaded, who=who, reason=reason, address=address)
    except Exception:  # the release's own records say how it ended; here, only the log
        log.exception("approving %s failed", release_id)
    finally:
        await asyncio.to_thread(manager.close)
        store.close()


@get("/dashboard/static/dashboard.css")
async def stylesheet() -> File:
    return File(HERE / "static" / "dashboard.css", media_type="text/css")


ROUTES = [sign_in_form, sign_in, sign_out, releases, release_page, approve, stylesheet]
