"""What an approver does from a release's page: approve a waiting release, waive a check (with a reason and an
expiry), abort a release before its switch, roll a promoted one back. Each is a form with the session's CSRF
token and a reason; the actor is the signed-in account, in the timeline and the audit log (`verified: true`).

Approving, aborting and rolling back are the release manager's own steps (`gates.release`), run in this process
in the background: the form answers at once and the page shows the release moving."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.response import Redirect

from reelgate.gates.decision import Waiver
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.web import FORM, acting, approver, reason_of, records
from reelgate.gates.store import FINAL, Store

log = logging.getLogger("reelgate.gates.dashboard")
STEPS = {
    "approve": ("approving", ("awaiting_approval",)),
    "abort": ("aborting", ("planned", "deploying", "gating", "awaiting_approval")),  # before any switch
    "rollback": ("rolling back", ("promoted",)),
}
"""Each step: what it is called in a refusal, and the states it is possible in."""
WAIVER_HOURS = (1, 24, 168)


def _address(request: Request[Any, Any, Any]) -> str:
    return f"dashboard@{request.client.host if request.client else '?'}"


async def _step(
    release_id: str, request: Request[Any, Any, Any], state: State, data: dict[str, str], action: str
) -> Response[Any]:
    """An approver's step on the release (approve, abort, rollback) once its state allows it, in the background."""
    doing, allowed = STEPS[action]
    person = await acting(request, state, data)
    approver(person, doing)
    reason = reason_of(data, doing)
    found = await records(state).call("get", release_id)
    if found.state not in allowed:
        raise Refused(409, f"release {release_id} is {found.state}: {doing} is not possible now")
    if action == "rollback":
        switched = await records(state).call("last_switched")
        if switched is None or switched.id != release_id:
            newest = f"the newest release that moved traffic is {switched.id}" if switched else "none moved traffic"
            raise Refused(409, f"release {release_id} cannot be rolled back: {newest}")
    kwargs = {"who": person.name, "reason": reason, "address": _address(request)}
    _in_background(state.service, release_id, action, **kwargs)
    return Redirect(f"/dashboard/releases/{release_id}", status_code=303)


def _in_background(service: GateService, release_id: str, action: str, **kwargs: Any) -> None:
    task = asyncio.create_task(_run(service, release_id, action, **kwargs))
    service.background.add(task)
    task.add_done_callback(service.background.discard)


async def _run(service: GateService, release_id: str, action: str, **kwargs: Any) -> None:
    """The release manager's `action` (approve, abort, rollback) on the release's own policy, here."""
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
        if action == "approve":
            await manager.approve(release_id, loaded, **kwargs)
        else:
            await getattr(manager, action)(loaded, **kwargs)
    except Exception:  # the release's own records say how it ended; here, only the log
        log.exception("%s of %s failed", action, release_id)
    finally:
        await asyncio.to_thread(manager.close)
        store.close()


@post("/dashboard/releases/{release_id:str}/approve")
async def approve(release_id: str, request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Any:
    """A waiting release switches, then is watched, in this process."""
    return await _step(release_id, request, state, data, "approve")


@post("/dashboard/releases/{release_id:str}/abort")
async def abort(release_id: str, request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Any:
    """The running release stops before any switch; its candidate is stopped."""
    return await _step(release_id, request, state, data, "abort")


@post("/dashboard/releases/{release_id:str}/rollback")
async def rollback(release_id: str, request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Any:
    """Traffic goes back to the color that was live before this release, with no gates (the newest promoted
    release only, while its color is live)."""
    return await _step(release_id, request, state, data, "rollback")


@post("/dashboard/releases/{release_id:str}/waive")
async def waive(release_id: str, request: Request[Any, Any, Any], state: State, data: dict[str, str] = FORM) -> Any:
    """One named check turns advisory (`warn`) for this release's gates still to judge, or for every release,
    until it expires; a verdict already given stays as it was."""
    person = await acting(request, state, data)
    approver(person, "waiving a check")
    reason = reason_of(data, "a waiver")
    gate, dot, check = data.get("check", "").strip().partition(".")
    if not (gate and dot and check):
        raise Refused(400, "name the check as gate.check (for example `load.p95_ms`)")
    try:
        hours = int(data.get("hours", ""))
    except ValueError:
        hours = 0
    if hours not in WAIVER_HOURS:
        raise Refused(400, f"a waiver expires after {', '.join(map(str, WAIVER_HOURS))} hours")
    found = await records(state).call("get", release_id)
    scope = data.get("scope", "release")
    if scope not in ("release", "all"):
        raise Refused(400, "a waiver is for `release` (this one) or `all` (every release until it expires)")
    if scope == "release" and found.state in FINAL:
        raise Refused(409, f"release {release_id} is {found.state}: a waiver for it alone would change nothing")
    expires = datetime.now(UTC) + timedelta(hours=hours)
    waiver = Waiver(gate=gate[:100], check=check[:100], reason=reason, author=person.name, expires_at=expires)
    target = release_id if scope == "release" else None
    await records(state).call("add_waiver", target, waiver, _address(request), True)
    return Redirect(f"/dashboard/releases/{release_id}", status_code=303)


ROUTES = [approve, abort, rollback, waive]
