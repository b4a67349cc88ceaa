"""Flagger's webhooks, one route per hook type (`POST /v1/flagger/<hook>`), from what Flagger does
(docs/gate-service.md cites the lines of `pkg/controller/webhook.go` and the scheduler):

- Flagger always POSTs `{name, namespace, phase, checksum, metadata}` and reads only the status code: up to
  202 passes, anything above (204 included) fails, and the body becomes the event's text.
- It sends no header of ours, so the token travels in `metadata.token`, with `candidate_url` (and
  `live_url`, `commit`) beside it. The token is never logged and never in an answer.
- `confirm-rollout` runs before Flagger records the new revision, so it carries the previous checksum: it
  only checks that reelgate may judge this canary. Every other hook carries the new checksum, the run's
  revision.
- `pre-rollout` and `rollout` failures count towards the canary's threshold (then a rollback), so they fail
  only on a `block` verdict and pass while the run goes on; `confirm-traffic-increase` and
  `confirm-promotion` hold without counting (423 while running, 412 once blocked), and pass on `promote`;
  `rollback` is inverted: a 2xx means roll back, so only a `block` verdict gets one, never an unknown run.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.runs import RunRequest

HOOKS = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
)


class Payload(msgspec.Struct, kw_only=True):
    """Flagger's `CanaryWebhookPayload`; unknown fields are let through (a newer Flagger may add some)."""

    name: str
    namespace: str
    phase: str
    checksum: str = ""
    metadata: dict[str, str] | None = None


def _payload(body: bytes) -> Payload:
    try:
        return msgspec.json.decode(body, type=Payload)
    except msgspec.ValidationError as exc:
        raise Refused(400, f"not a Flagger webhook payload: {exc}") from None
    except msgspec.DecodeError:
        raise Refused(400, "not a Flagger webhook payload: the body is not JSON") from None


def _request(payload: Payload, metadata: dict[str, str]) -> RunRequest:
    fields = {k: metadata[k] for k in ("candidate_url", "live_url", "commit", "api_key_secret") if metadata.get(k)}
    try:
        return msgspec.convert(
            {"namespace": payload.namespace, "name": payload.name, "revision": payload.checksum, "source": "flagger"}
            | fields,
            RunRequest,
        )
    except msgspec.ValidationError as exc:
        raise Refused(400, f"cannot judge {payload.namespace}/{payload.name}: {exc}") from None


def _text(status: int, message: str) -> Response[str]:
    return Response(message, status_code=status, media_type="text/plain")


@post("/v1/flagger/{hook:str}", status_code=200)
async def flagger_hook(hook: str, request: Request[Any, Any, Any], state: State) -> Response[str]:
    """One of Flagger's hooks; the status code is the answer (up to 202 passes), the body its words."""
    service: GateService = state.service
    if hook not in HOOKS:
        raise Refused(404, f"no Flagger hook {hook!r}; the hooks are {', '.join(HOOKS)}")
    payload = _payload(await request.body())
    if payload.metadata is None:
        raise Refused(
            400,
            "the webhook has no metadata: reelgate needs `token` and `candidate_url` in the hook's `metadata`"
            " (Flagger sends no custom headers)",
        )
    metadata = dict(payload.metadata)
    who = await service.authorize(metadata.pop("token", None), payload.namespace)
    canary = f"{payload.namespace}/{payload.name}"
    if hook == "event":
        return _text(202, "noted")
    if hook == "confirm-rollout":
        return _text(200, f"reelgate may judge {canary} with policy {service.loaded.policy.name}")
    key = (payload.namespace, payload.name, payload.checksum)
    if hook in ("pre-rollout", "rollout"):
        row = await service.start(_request(payload, metadata), who)
    else:
        found = await service.runs.poll(*key)
        if found is None:
            raise Refused(404, f"no run of {canary} at {payload.checksum}: its pre-rollout or rollout hook starts it")
        row = found
    state_, verdict, reason = row["state"], row["verdict"], row["reason"]
    if hook == "post-rollout":
        await service.runs.set_phase(key, payload.phase)
        return _text(200, f"{canary} ended {payload.phase}")
    if state_ == "expired":
        raise Refused(410, reason)
    if hook == "rollback":  # inverted: a 2xx rolls the canary back
        if verdict == "block":
            return _text(200, f"roll back {canary}: {reason}")
        raise Refused(409, f"no rollback: the run of {canary} is {verdict or state_}")
    if verdict == "block":
        raise Refused(412, f"reelgate blocks {canary}: {reason}")
    if verdict == "promote":
        return _text(200, f"reelgate promotes {canary}: {reason}")
    if hook in ("pre-rollout", "rollout"):
        return _text(202, f"reelgate is judging {canary} ({row['reason']})")
    raise Refused(423, f"hold: reelgate is still judging {canary}")
