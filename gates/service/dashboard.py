"""The release dashboard, served by the gate service under `/dashboard` (docs/dashboard.md): sign-in, every
release and gate service run in one table with filters and pages, and the routes of its other pages:

- `release_page`: one release, live (server-sent events with a polling fallback), with its artefacts;
- `actions`: approve, waive, abort, roll back (approvers only);
- `compare`: a release against the one live before it, or any other;
- `run_page`: a gate service run.

Server-rendered; the only script keeps a release's page live. Every form carries its session's CSRF token."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.response import File, Redirect, ServerSentEvent

from reelgate.gates.service import actions, compare, live, release_page, run_page
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.live import Parts, Version, fingerprint, hashed
from reelgate.gates.service.web import (
    CSRF_COOKIE,
    FORM,
    HERE,
    SESSION_COOKIE,
    acting,
    page,
    reader,
    records,
    render,
    sessions,
    with_cookie,
)
from reelgate.gates.store import FINAL

PER_PAGE = 25
STATES = ("planned", "deploying", "gating", "awaiting_approval", "switching", "watching", *FINAL, "running", "expired")


def _day(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC) if text else None
    except ValueError:
        raise Refused(400, f"not a date (YYYY-MM-DD): {text!r}") from None


@get("/dashboard/sign-in")
async def sign_in_form(request: Request[Any, Any, Any]) -> Response[str]:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page("sign_in.html", csrf=csrf, name="", error="", person=None)
    return with_cookie(response, request, CSRF_COOKIE, csrf)


@post("/dashboard/sign-in")
async def sign_in(request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Response[Any]:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, data.get("_csrf", "")):
        raise Refused(403, "the form has expired: open the sign-in page again")
    name = data.get("name", "")[:200]
    cookie = await sessions(state).sign_in(name, data.get("password", ""))
    if cookie is None:
        return page("sign_in.html", 401, csrf=expected, name=name, error="Wrong account or password.", person=None)
    return with_cookie(Redirect("/dashboard", status_code=303), request, SESSION_COOKIE, cookie)


@post("/dashboard/sign-out")
async def sign_out(request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Response[Any]:
    await acting(request, state, data)  # signed in, with the CSRF token
    await sessions(state).sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response: Response[Any] = Redirect("/dashboard/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


class Listing(msgspec.Struct, frozen=True):
    """Which releases a table shows: its filters and page, from the query."""

    state: str
    since: str
    until: str
    page: int

    @classmethod
    def of(cls, request: Request[Any, Any, Any]) -> Listing:
        query = request.query_params
        wanted = query.get("state", "")
        if wanted and wanted not in STATES:
            raise Refused(400, f"no state {wanted!r}; the states are {', '.join(STATES)}")
        try:
            number = max(1, int(query.get("page", "1")))
        except ValueError:
            raise Refused(400, "page must be a number") from None
        listing = cls(state=wanted, since=query.get("since", ""), until=query.get("until", ""), page=number)
        _day(listing.since), _day(listing.until)  # refuse a bad date now
        return listing

    def query(self, page: int | None = None) -> str:
        kept = {k: v for k, v in (("state", self.state), ("since", self.since), ("until", self.until)) if v}
        return urlencode({**kept, "page": page or self.page})


async def _table(state: State, listing: Listing) -> dict[str, str]:
    rows, total = await records(state).call(
        "history_with_runs", PER_PAGE, (listing.page - 1) * PER_PAGE, listing.state or None,
        _day(listing.since), _day(listing.until),
    )  # fmt: skip
    pages = max(1, -(-total // PER_PAGE))
    html = render(
        "_table.html", rows=rows, total=total, page=listing.page, pages=pages,
        link=lambda to: "/dashboard?" + listing.query(to),
    )  # fmt: skip
    return {"live-table": html}


TABLE_VERSION_SQL = """
SELECT (SELECT max(updated_at) FROM reelgate_gates.releases) AS release, (SELECT count(*) FROM reelgate_gates.releases),
  (SELECT max(coalesce(finished_at, created_at)) FROM reelgate_gates.runs) AS run,
  (SELECT count(*) FROM reelgate_gates.runs) AS runs
"""


def _live_table(state: State, listing: Listing) -> tuple[Version, Parts]:
    async def seen() -> tuple[str, bool]:
        service: GateService = state.service
        async with service.pool.connection() as conn:
            row = await (await conn.execute(TABLE_VERSION_SQL)).fetchone()
        return fingerprint([row, listing.query()]), False

    async def parts() -> dict[str, str]:
        return await _table(state, listing)

    return seen, parts


@get("/dashboard")
async def releases(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    person = await reader(request, state)
    listing = Listing.of(request)
    version, parts = _live_table(state, listing)
    seen = await version()
    return page(
        "releases.html", person=person, parts=hashed(await parts()), version=seen[0] if seen else "",
        live_query=listing.query(), states=STATES, state=listing.state, since=listing.since, until=listing.until,
    )  # fmt: skip


@get("/dashboard/live")
async def releases_live(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    await reader(request, state)
    return await live.poll(request, *_live_table(state, Listing.of(request)))


@get("/dashboard/events")
async def releases_events(request: Request[Any, Any, Any], state: State) -> ServerSentEvent:
    await reader(request, state)
    return live.stream(request, *_live_table(state, Listing.of(request)))


@get("/dashboard/static/{name:str}")
async def static(name: str) -> File:
    kinds = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
    if name not in kinds:
        raise Refused(404, f"no file {name!r}")
    return File(HERE / "static" / name, media_type=kinds[name], headers={"Cache-Control": "no-cache"})


ROUTES = [
    sign_in_form, sign_in, sign_out, releases, releases_live, releases_events, static,
    *release_page.ROUTES, *actions.ROUTES, *compare.ROUTES, *run_page.ROUTES,
]  # fmt: skip
