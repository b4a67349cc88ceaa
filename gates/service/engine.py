"""The gate service's engine: who may ask, starting a run once, judging it apart from any request, and the
sweeper that expires runs nobody polls any more."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path
from typing import Any

import msgspec
from psycopg_pool import AsyncConnectionPool

from reelgate.gates.api import Checkout, DeployError, PluginContext, needs
from reelgate.gates.decision import decide
from reelgate.gates.policy import LoadedPolicy
from reelgate.gates.reports import write_reports
from reelgate.gates.runner import Runner, RunOptions
from reelgate.gates.service.metrics import Metrics
from reelgate.gates.service.runs import RunRequest, RunStore
from reelgate.gates.service.tokens import Caller, caller

log = logging.getLogger("reelgate.gates.service")

RunKey = tuple[str, str, str]


class Refused(Exception):
    """A request the service answers with `status` and a sentence (never the caller's token)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class ServiceOptions(msgspec.Struct, kw_only=True):
    expire_after: float = 600.0
    """Seconds a running run may go unpolled before it expires."""
    max_runs: int = 2
    """Runs this process executes at once; one more is a 503 (the caller retries), never a queue that hides."""
    secrets: Path | None = None
    """The folder of secrets a request may name (`api_key_secret`), one file per secret."""


class GateService:
    def __init__(
        self,
        loaded: LoadedPolicy,
        registry: Any,
        pool: AsyncConnectionPool[Any],
        ctx: PluginContext,
        options: ServiceOptions | None = None,
    ) -> None:
        self.loaded, self.registry, self.pool, self.ctx = loaded, registry, pool, ctx
        self.workdir = ctx.var / "runs"
        self.options = options or ServiceOptions()
        self.runs = RunStore(pool)
        self.metrics = Metrics()
        self.tasks: dict[RunKey, asyncio.Task[None]] = {}
        self.background: set[asyncio.Task[None]] = set()
        """Work started from the dashboard (an approved release's switch), kept until done."""

    @property
    def sweep_every(self) -> float:
        return min(10.0, self.options.expire_after / 4)

    @property
    def lost_after(self) -> float:
        return max(60.0, 6 * self.sweep_every)

    def folder(self, key: RunKey) -> Path:
        return self.workdir.joinpath(*key)

    async def authorize(self, token: str | None, namespace: str) -> Caller:
        if not token:
            raise Refused(401, "no token: send `Authorization: Bearer <token>` (Flagger: `token` in the metadata)")
        found = await caller(self.pool, token)
        if found is None:
            raise Refused(401, "the token is unknown or revoked (`reelgate gate token list`)")
        if not found.may(namespace):
            raise Refused(403, f"token {found.name!r} may not ask about namespace {namespace!r}")
        return found

    def secret(self, name: str) -> str:
        """The secret `name` from the service's folder; a 400 naming it when there is none."""
        folder = self.options.secrets
        path = folder / name if folder else None
        if path is None or not path.is_file():
            where = f"in {folder}" if folder else "(the service was started without --secrets)"
            raise Refused(400, f"the service holds no secret named {name!r} {where}")
        return path.read_text().strip()

    async def start(self, request: RunRequest, who: Caller) -> dict[str, Any]:
        """Make the run (or attach to it) and start its gates if this call made it; returns the run's row."""
        if request.api_key_secret:
            self.secret(request.api_key_secret)  # refuse now, not after the run has started
        existing = None if request.rerun else await self.runs.poll(*request.key)
        if existing is not None:  # every poll after the first: one statement, stamped as asked about
            return existing
        running_here = sum(not t.done() for t in self.tasks.values())
        if running_here >= self.options.max_runs:
            raise Refused(
                503,
                f"busy: this gate service runs {running_here} runs at once (--max-runs); ask again shortly",
                retry_after=10,
            )
        if await self.runs.create(request, who.name):
            task = asyncio.create_task(self.judge(request))
            self.tasks[request.key] = task  # kept until done: the run never depends on the request
            task.add_done_callback(functools.partial(self._forget, request.key))
        row = await self.runs.poll(*request.key)  # ours, or the one another replica made a moment ago
        assert row is not None
        return row

    def _forget(self, key: RunKey, task: asyncio.Task[None]) -> None:
        if self.tasks.get(key) is task:
            del self.tasks[key]

    def _deployer(self) -> Any:
        """The policy's deployer, if it can check a commit out (the local one can)."""
        kind = self.registry.deployers.get(self.loaded.policy.deployer.uses)
        return kind(self.loaded.deployer_config, self.ctx) if kind and hasattr(kind, "checkout") else None

    async def _checkout(self, request: RunRequest, folder: Path) -> Checkout | None:
        """The candidate's source at `commit` (and its build when a gate runs its tests), or None without one."""
        if not request.commit:
            return None
        deployer = self._deployer()
        if deployer is None:
            raise DeployError(f"the policy's deployer `{self.loaded.policy.deployer.uses}` cannot check a commit out")
        build = any("build" in needs(self.registry.gates[g.uses]) for g in self.loaded.policy.gates if g.phase == "pre")
        checkout: Checkout = await deployer.checkout(folder, request.commit, log.info, build=build)
        return checkout

    async def judge(self, request: RunRequest) -> None:
        """Run the policy's pre-promotion gates against the candidate, keep the verdict and write the reports;
        a crash is a `block` naming it, never a run left `running`."""
        folder = self.folder(request.key)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            checkout = await self._checkout(request, folder)
            options = RunOptions(
                target=request.candidate_url,
                workdir=folder,
                baseline_url=request.live_url or None,
                api_key=self.secret(request.api_key_secret) if request.api_key_secret else None,
                source_dir=Path(checkout.source_dir) if checkout else None,
                python=checkout.python if checkout else None,
                live_commit=request.live_commit,
            )
            results = await Runner(self.loaded, self.registry.gates, options).run("pre")
            decision = decide(results)
            outcome, reason = decision.outcome, decision.reason
        except DeployError as exc:
            results, decision = [], None
            outcome, reason = "block", f"cannot check out {request.commit}: {exc}"
        except Exception as exc:  # the verdict must land whatever broke
            log.exception("run %s crashed", "/".join(request.key))
            results, decision = [], None
            outcome, reason = "block", f"the run crashed: {type(exc).__name__}: {exc}"
        finally:
            deployer = self._deployer() if request.commit else None
            if deployer is not None:
                await deployer.remove_checkout(folder)
        if await self.runs.finish(request.key, outcome, reason, msgspec.to_builtins(results)):
            self.metrics.ended(outcome, request.source, time.monotonic() - started)
            await asyncio.to_thread(
                write_reports,
                "/".join(request.key),
                request.candidate_url,
                self.loaded.policy.name,
                "finished",
                decision,
                results,
                [],
                folder / "reports",
                self.registry.reporters,
            )

    async def sweep(self) -> list[RunKey]:
        """Expire what nobody polls (and what a stopped process left), and stop its gates here."""
        expired = await self.runs.sweep(self.options.expire_after, self.lost_after)
        for row in expired:
            key = (row["namespace"], row["name"], row["revision"])
            task = self.tasks.get(key)
            if task is not None:
                task.cancel()  # the gates' tools die with it (run_tool kills their process group)
            self.metrics.ended("expired", row["source"])
            log.info("run %s expired", "/".join(key))
        return [(r["namespace"], r["name"], r["revision"]) for r in expired]

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a lost database connection must not end the sweeper
                log.exception("sweeping the runs failed; trying again")
            await asyncio.sleep(self.sweep_every)
