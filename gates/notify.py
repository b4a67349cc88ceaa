"""Notifications of a release's transitions, through the policy's `notify:` list of notifier plugins.

Each (event, notifier) is delivered once: its row in `reelgate_gates.notifications` is claimed with an
`INSERT ... ON CONFLICT DO NOTHING` before anything is sent, so a runner that retries a step, or a second
runner recovering the release, never sends it twice. The event id is derived from (release, transition), the
same for every runner. Delivery runs beside the release on threads of its own, over a connection of its own:
it never changes a verdict and never holds a release up. It retries only what may pass later (a transport
error, a 429 honouring its `Retry-After`, a 5xx) with exponential backoff, within `DELIVERY_SECONDS` in all;
a failure is recorded on the release's timeline. The command waits for outstanding deliveries (bounded) before
it exits.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_before_delay, wait_exponential

from reelgate.gates.api import FailedCheck, Notification, NotifyError, Outgoing
from reelgate.gates.model import GateResult
from reelgate.gates.policy import LoadedPolicy, NotifySpec
from reelgate.gates.store import Store

log = logging.getLogger("reelgate.gates.notify")

EVENTS = uuid.UUID("5f1c6a52-3a53-4d0e-9b8e-0c6f5c6a2d11")
"""The namespace of event ids (uuid5 of `<release>/<transition>`)."""
DELIVERY_SECONDS = 30.0
"""The most one delivery may take, retries included."""
STATE_TRIGGERS = {
    "deploying": "started",
    "awaiting_approval": "awaiting_approval",
    "promoted": "promoted",
    "blocked": "blocked",
    "rolled_back": "switched_back",
    "aborted": "aborted",
}
"""The trigger of a state a release enters; a call site may say otherwise (a rollback by a person is
`rolled_back`, a runner that died is `errored`)."""


class Retryable(Exception):
    """An answer worth asking again: a 429 (with how long it asked us to wait) or a 5xx."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.retry_after = status, retry_after


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _wait(state: RetryCallState) -> float:
    """Exponential backoff from 0.5 s; a 429's `Retry-After` instead, when it names seconds."""
    failure = state.outcome.exception() if state.outcome else None
    if isinstance(failure, Retryable) and failure.retry_after is not None:
        return failure.retry_after
    return float(wait_exponential(multiplier=0.5, max=8)(state))


def failed_checks(results: list[GateResult]) -> list[FailedCheck]:
    found = []
    for result in results:
        bad = [c for c in result.checks if c.verdict in ("fail", "error")]
        found += [
            FailedCheck(
                gate=result.gate,
                check=c.name,
                verdict=c.verdict,
                value=c.value,
                threshold=c.threshold,
                baseline=c.baseline,
                unit=c.unit,
            )
            for c in bad
        ]
        if not bad and result.verdict in ("fail", "error"):
            found.append(FailedCheck(gate=result.gate, check=result.reason, verdict=result.verdict))
    return found


class Notifications:
    def __init__(
        self, loaded: LoadedPolicy, notifiers: dict[str, type[Any]], db_url: str, dashboard_url: str = ""
    ) -> None:
        self.targets = [
            (spec, notifiers[spec.uses](config))
            for spec, config in zip(loaded.policy.notify, loaded.notifier_configs, strict=True)
        ]
        self.db_url, self.dashboard_url = db_url, dashboard_url.rstrip("/")
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify") if self.targets else None
        self.pending: list[Future[None]] = []
        self.lock = threading.Lock()
        self._store: Store | None = None

    def wants(self, trigger: str) -> bool:
        return any(trigger in spec.on for spec, _ in self.targets)

    def emit(
        self,
        trigger: str,
        release_id: str,
        candidate: str,
        state: str,
        reason: str,
        results: list[GateResult] | None = None,
        report: str | None = None,
        key: str = "",
    ) -> None:
        """Deliver the event to every notifier that wants `trigger`, in the background; `key` tells apart
        events of one trigger in one release (each failed gate)."""
        wanted = [(spec, notifier) for spec, notifier in self.targets if trigger in spec.on]
        if not wanted or self.pool is None:
            return
        event = Notification(
            event_id=str(uuid.uuid5(EVENTS, f"{release_id}/{trigger}/{key}")),
            trigger=trigger,  # type: ignore[arg-type]
            release_id=release_id,
            candidate=candidate,
            state=state,
            reason=reason,
            failed_checks=failed_checks(results or []),
            report=report,
            dashboard=f"{self.dashboard_url}/dashboard/releases/{release_id}" if self.dashboard_url else None,
            at=datetime.now(UTC),
        )
        for spec, notifier in wanted:
            self.pending.append(self.pool.submit(self._deliver, spec, notifier, event))

    def close(self, timeout: float = DELIVERY_SECONDS + 5) -> None:
        """Wait for the deliveries under way (at most `timeout` s), then let the threads go."""
        if self.pool is None:
            return
        wait(self.pending, timeout=timeout)
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            if self._store is not None:
                self._store.close()

    def _records(self) -> Store:
        """The delivery threads' own store (a connection apart from the release's), made on first use."""
        if self._store is None:
            self._store = Store(self.db_url)
        return self._store

    def _sql(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self.lock:  # one connection for the delivery threads, one statement at a time
            return self._records().conn.execute(sql, args).fetchone()

    def _deliver(self, spec: NotifySpec, notifier: Any, event: Notification) -> None:
        claimed = self._sql(
            "INSERT INTO reelgate_gates.notifications (event_id, target, release_id, trigger)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING event_id",
            (event.event_id, spec.name, event.release_id, event.trigger),
        )
        if claimed is None:
            return  # another runner, or an earlier attempt of this one, has it
        attempts = 0
        try:
            outgoing: Outgoing = notifier.request(event)
            for attempt in Retrying(
                retry=retry_if_exception(lambda e: isinstance(e, Retryable | httpx.TransportError)),
                wait=_wait,
                stop=stop_before_delay(DELIVERY_SECONDS),  # a wait past the budget (a long Retry-After) stops
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    self._post(outgoing)
            self._record(event, spec, "sent", attempts, "")
        except (NotifyError, Retryable, httpx.HTTPError, RuntimeError) as exc:
            why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, NotifyError | RuntimeError) else str(exc)
            log.warning("notification %s to %s failed: %s", event.trigger, spec.name, why)
            self._record(event, spec, "failed", attempts, why)
            with self.lock:
                self._records().event(
                    event.release_id, "notify-failed", f"notifying {spec.name} of {event.trigger} failed: {why}"
                )

    @staticmethod
    def _post(outgoing: Outgoing) -> None:
        response = httpx.post(outgoing.url, content=outgoing.body, headers=outgoing.headers, timeout=10)
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(response.status_code, _retry_after(response))
        if response.status_code >= 300:  # the receiver refuses it: asking again will not help
            raise RuntimeError(f"refused with HTTP {response.status_code}: {response.text[:200]}")

    def _record(self, event: Notification, spec: NotifySpec, state: str, attempts: int, error: str) -> None:
        self._sql(
            "UPDATE reelgate_gates.notifications SET state = %s, attempts = %s, error = %s, finished_at = now()"
            " WHERE event_id = %s AND target = %s RETURNING event_id",
            (state, attempts, error, event.event_id, spec.name),
        )
