"""A blue-green release: deploy the candidate beside the live color, gate it, then switch
traffic or stop it, keeping every step in PostgreSQL.

    planned -> deploying -> gating -> [awaiting_approval] -> switching -> watching -> promoted
                               \\-> blocked                        \\-> rolled_back (post gates failed)

One release at a time (a unique index), and the runner holds an advisory lock
for as long as it lives: a release whose runner died is found by the next
command and resumed safely (traffic goes back to the color that was live).

A little over 400 lines on purpose: every transition of the state machine, and
every human decision that moves one (approve, abort, rollback, recovery), stays
in this one class so that the states can be read side by side. The watch's
sampling lives in `gates/watch.py`, the judging in `gates/judge.py`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import msgspec

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.contract.stack import other
from reelgate.gates.api import Deployer, DeployError, Deployment, Router, RouterError, Say, http_ready, run_tool
from reelgate.gates.decision import apply_waivers, blocking, decide
from reelgate.gates.model import Decision, GateResult
from reelgate.gates.notify import STATE_TRIGGERS, Notifications
from reelgate.gates.policy import LoadedPolicy, PolicyError, load_policy
from reelgate.gates.reports import write_reports
from reelgate.gates.runner import OnEvent, Runner, RunOptions
from reelgate.gates.settings import EngineSettings
from reelgate.gates.store import Release, Store, StoreError, actor
from reelgate.gates.watch import Failure, watch

log = logging.getLogger("reelgate.gates.release")


def new_release_id() -> str:
    return time.strftime("r%Y%m%d-%H%M%S-") + secrets.token_hex(2)


class ReleaseManager:
    def __init__(
        self,
        settings: EngineSettings,
        store: Store,
        registry: Any,
        hooks: Any,
        say: Say,
        on_gate: OnEvent | None = None,
    ) -> None:
        self.settings, self.store, self.registry, self.hooks, self.say = settings, store, registry, hooks, say
        self.on_gate = on_gate
        self._live_commits: dict[tuple[str, str], str | None] = {}
        """(release, phase) -> the live commit the gates compare with: asked once, not every watch interval."""
        """Gate events (started, finished) for a live display; without one they are said as lines."""
        self.ctx = settings.plugin_context()
        self._notifiers: dict[str, Notifications | None] = {}
        """Each policy file's notifications (the policy a release was started with says where to)."""

    # -- plugins of a policy ---------------------------------------------------------

    def _router(self, loaded: LoadedPolicy) -> Router:
        router: Router = self.registry.routers[loaded.policy.router.uses](loaded.router_config, self.ctx)
        return router

    def _deployer(self, loaded: LoadedPolicy) -> Deployer:
        deployer: Deployer = self.registry.deployers[loaded.policy.deployer.uses](loaded.deployer_config, self.ctx)
        return deployer

    def _folder(self, release_id: str) -> Path:
        return contract.release_dir(self.settings.var, release_id)

    # -- start -------------------------------------------------------------------------

    async def start(self, candidate: str, loaded: LoadedPolicy) -> Release:
        await self.recover()
        router = self._router(loaded)
        live, live_build = self.store.live()
        seen = await router.live()
        if seen and seen != live:
            self.say(f"the router sends traffic to {seen}, the records say {live}; trusting the router")
            live = seen
        release_id = new_release_id()
        release = self.store.create(
            release_id, candidate, loaded.policy.name, loaded.source, live, other(live), policy_text=loaded.text
        )
        if not self.store.hold_runner_lock(release_id):
            raise StoreError(f"could not take the runner lock of {release_id}")
        self.store.update(release_id, build_before=live_build)
        self.say(f"release {release_id}: {candidate} as {release.candidate_color}, {live} stays live meanwhile")
        deployer = self._deployer(loaded)
        self._transition(release_id, "deploying", f"deploying {candidate} as {release.candidate_color}")
        try:
            deployment: Deployment = await deployer.deploy(release_id, candidate, release.candidate_color, self.say)
        except DeployError as exc:
            await self._stop_quietly(deployer, release.candidate_color)
            decision = Decision(
                outcome="block", reason=f"the candidate could not be deployed: {exc}", deciding_gate=None
            )
            return self._finish_blocked(release_id, decision)
        self._keep_deployment(release_id, deployment)
        self.store.event(release_id, "deployed", f"{candidate} answers at {deployment.url}")
        self._transition(release_id, "gating", "running the pre-promotion gates")
        results = await self._gates(release_id, loaded, "pre", deployment.url, deployment)
        decision = decide(results, loaded.policy.approval)
        self.store.update(release_id, decision=decision)
        self._hook("release_decided", release_id=release_id, decision=decision, results=results)
        if decision.outcome == "block":
            await self._stop_quietly(deployer, release.candidate_color)
            await self._cleanup(deployer, release_id)
            return self._finish_blocked(release_id, decision)
        if loaded.policy.approval:
            self._transition(release_id, "awaiting_approval", "gates passed; waiting for `reelgate release approve`")
            self._reports(release_id)
            return self.store.get(release_id)
        return await self._switch_and_watch(release_id, loaded, deployer)

    async def approve(
        self, release_id: str, loaded: LoadedPolicy, who: str | None = None, reason: str = "", address: str = ""
    ) -> Release:
        """Switch a release that waits for approval. `who` is a signed-in account (the dashboard's); without
        one the actor is the CLI's environment, recorded as unverified."""
        release = self.store.get(release_id)
        if release.state != "awaiting_approval":
            raise StoreError(f"release {release_id} is {release.state}, not awaiting approval")
        if not self.store.hold_runner_lock(release_id):
            raise StoreError(f"another runner is working on {release_id}")
        by = who or actor()
        said = f"approved for the switch{': ' + reason if reason else ''}"
        self.store.event(release_id, "approved", said, by if who else f"{by} (unverified)")
        self.store.audit(
            "release.approve", by, address or None, release=release_id, reason=reason, verified=who is not None
        )
        return await self._switch_and_watch(release_id, loaded, self._deployer(loaded))

    # -- switch, watch, scale down -------------------------------------------------------

    async def _switch_and_watch(self, release_id: str, loaded: LoadedPolicy, deployer: Any) -> Release:
        release = self.store.get(release_id)
        router = self._router(loaded)
        new, old = release.candidate_color, release.live_before
        self._transition(release_id, "switching", f"switching traffic from {old} to {new}")
        try:
            await self._switch(router, new, release_id, f"promoting {release.candidate}", release.build_dir)
        except RouterError as exc:
            self.store.event(release_id, "switch-failed", str(exc))
            await self._switch_back(router, old, release_id, f"the switch failed: {exc}")
            await self._stop_quietly(deployer, new)
            self._transition(release_id, "rolled_back", f"the switch failed: {exc}", trigger="errored")
            self._reports(release_id)
            return self.store.get(release_id)
        self.say(f"traffic is on {new}")
        self._transition(release_id, "watching", f"watching {new} with the post-promotion gates")
        failure = await self._post_gates(release_id, loaded)
        if failure is None and loaded.policy.watch is not None:
            failure = await self._watch(release_id, loaded, new)
        if failure is not None:
            reason, gate, detected = failure
            self.say(f"{reason}; switching back to {old}")
            await self._switch_back(router, old, release_id, reason)
            took = time.monotonic() - detected
            self.store.event(release_id, "switched-back", f"traffic is back on {old}, {took:.2f} s after: {reason}")
            await self._stop_quietly(deployer, new, drain_to=old)
            self.store.update(release_id, decision=Decision(outcome="block", reason=reason, deciding_gate=gate))
            self._transition(release_id, "rolled_back", reason)
            await self._cleanup(deployer, release_id)
            self._reports(release_id)
            return self.store.get(release_id)
        delay = loaded.policy.scale_down_delay
        watched = " and the watch" if loaded.policy.watch is not None else ""
        self.store.event(release_id, "scale-down", f"post-promotion gates{watched} passed; {old} stops in {delay:g} s")
        await asyncio.sleep(delay)
        await self._stop_quietly(deployer, old, drain_to=new)
        self._transition(release_id, "promoted", f"{new} is live; {old} stopped and drained into it")
        await self._cleanup(deployer, release_id)
        self._reports(release_id)
        return self.store.get(release_id)

    async def _post_gates(self, release_id: str, loaded: LoadedPolicy) -> Failure | None:
        """The post gates through the router once; (reason, gate, when) of the first required failure."""
        deployment = self.store.get(release_id).deployment
        post = await self._gates(release_id, loaded, "post", self.settings.url("router"), deployment)
        # The rule that blocks before promotion: missing evidence after it is a failed watch.
        first = blocking(post)
        if first is None:
            return None
        if first.verdict == "skipped":
            reason = (
                f"post-promotion gate `{first.gate}` did not run ({first.reason}): "
                "missing evidence after promotion is a failed watch"
            )
        else:
            reason = f"post-promotion gate `{first.gate}` is {first.verdict}: {first.reason}"
        return reason, first.gate, time.monotonic()

    async def _watch(self, release_id: str, loaded: LoadedPolicy, color: str) -> Failure | None:
        """The policy's watch of the new live color (`gates.watch`), its samples kept in the timeline."""
        assert loaded.policy.watch is not None
        deployment = self.store.get(release_id).deployment
        url = deployment.url if deployment is not None else self.ctx.url(color)
        self.say(f"watching {color} for {loaded.policy.watch.duration_s:g} s")
        return await watch(
            url,
            color,
            loaded.policy.watch,
            record=lambda kind, message, detail: self.store.event(release_id, kind, message, detail=detail),
            post_gates=lambda: self._post_gates(release_id, loaded),
        )

    async def _switch_back(self, router: Router, color: str, release_id: str, reason: str) -> None:
        await self._switch(router, color, release_id, reason, self.store.build_before(release_id), back=True)

    async def _switch(
        self, router: Router, color: str, release_id: str, reason: str, build_dir: str | None, back: bool = False
    ) -> None:
        """Every switch goes through here: the router switches and confirms, then the records follow it, then
        the plugins hear of it. Traffic going back to the color that was live belongs to no release."""
        await router.switch(color)
        await self._record_live(color, None if back else release_id, build_dir)
        self._hook("traffic_switched", release_id=release_id, color=color, reason=reason)

    async def _record_live(self, color: str, release_id: str | None, build_dir: str | None) -> None:
        """The router is the one owner of the live color; after a confirmed switch everything else is
        derived from it: the engine's row (with the build a rollback restarts) and the local stack's
        `var/live_color` and router configs, so a `stack down` and `stack up` serve the same color."""
        self.store.set_live(color, release_id, build_dir)
        if not (self.ctx.var / "supervisord.conf").exists():
            return  # no local stack here (a remote router): nothing to derive
        run = await run_tool(
            [self.ctx.reelgate, "stack", "router-config", color, "--json"],
            cwd=self.ctx.home,
            env=self.ctx.env(),
            kill_after=60,
        )
        try:
            answer = run.answer(answers.RouterConfig)
        except ValueError:
            answer = None
        if not isinstance(answer, answers.RouterConfig) or answer.live != color:
            raise RouterError(f"switched to {color}, but the stack's router config was not rewritten: {run.tail()}")

    # -- human decisions ------------------------------------------------------------------

    async def abort(self, loaded: LoadedPolicy, reason: str, who: str | None = None, address: str = "") -> Release:
        """Stop the running release before any switch. `who` is a signed-in account, as for `approve`."""
        release = self.store.active()
        if release is None:
            raise StoreError("no release is running")
        if release.state in ("switching", "watching"):
            raise StoreError(
                f"release {release.id} is {release.state}: traffic may be on the candidate; "
                "use `reelgate release rollback`"
            )
        await self._stop_quietly(self._deployer(loaded), release.candidate_color)
        await self._cleanup(self._deployer(loaded), release.id)
        self._transition(release.id, "aborted", reason, who or actor())
        self.store.audit(
            "release.abort",
            who or actor(),
            address or None,
            release=release.id,
            reason=reason,
            verified=who is not None,
        )
        self._reports(release.id)
        return self.store.get(release.id)

    async def rollback(self, loaded: LoadedPolicy, reason: str, who: str | None = None, address: str = "") -> Release:
        """Switch back at once, with no gates; restart the previous build first if it stopped."""
        release = self.store.active()
        if release is None or release.state not in ("watching", "switching"):
            release = self.store.last_switched()
        if release is None:
            raise StoreError("there is no promoted release to roll back")
        if release.state == "rolled_back":
            raise StoreError(f"the last release that moved traffic ({release.id}) is already rolled back")
        live, _ = self.store.live()
        if live != release.candidate_color:
            raise StoreError(
                f"release {release.id} put {release.candidate_color} live, but {live} is live now; nothing to roll back"
            )
        router, deployer = self._router(loaded), self._deployer(loaded)
        old, new = release.live_before, release.candidate_color
        build_before = self.store.build_before(release.id)
        # Ask the color itself: the router's health checks lag a second or two behind a stop.
        if await http_ready(self.ctx.url(old)) != 200:
            self.say(f"{old} is stopped; restarting its build")
            await deployer.start(old, build_before)
        await self._switch(router, old, release.id, f"rollback: {reason}", build_before, back=True)
        await self._stop_quietly(deployer, new, drain_to=old)
        self._transition(release.id, "rolled_back", reason, who or actor(), trigger="rolled_back")
        self.store.audit(
            "release.rollback", who or actor(), address or None, release=release.id, reason=reason, to=old,
            verified=who is not None,
        )  # fmt: skip
        self._reports(release.id)
        return self.store.get(release.id)

    async def recover(self) -> Release | None:
        """A release whose runner died is resumed safely: traffic never stays on an ungated color."""
        release = self.store.active()
        if release is None or release.state == "awaiting_approval" or self.store.runner_alive(release.id):
            return None
        from reelgate.gates.manager import registry

        self.say(f"release {release.id} was left {release.state} by a runner that died; recovering")
        reg = registry()
        loaded = load_policy(release.policy_file, reg.gates, reg.routers, reg.deployers, reg.notifiers)
        router, deployer = self._router(loaded), self._deployer(loaded)
        if release.state in ("switching", "watching"):
            why = f"recovery: the runner died while {release.state}"
            if await router.live() != release.live_before:
                await self._switch_back(router, release.live_before, release.id, why)
            else:
                await self._record_live(release.live_before, None, self.store.build_before(release.id))
            await self._stop_quietly(deployer, release.candidate_color, drain_to=release.live_before)
            self._transition(
                release.id,
                "rolled_back",
                f"the runner died while {release.state}; traffic is back on {release.live_before}",
                trigger="errored",
            )
        else:
            await self._stop_quietly(deployer, release.candidate_color)
            self._transition(release.id, "aborted", f"the runner died while {release.state}", trigger="errored")
        await self._cleanup(deployer, release.id)
        self._reports(release.id)
        return self.store.get(release.id)

    # -- helpers ---------------------------------------------------------------------------

    async def _live_commit(self, release_id: str, phase: str) -> str | None:
        if (release_id, phase) not in self._live_commits:
            self._live_commits[release_id, phase] = await self._read_live_commit()
        return self._live_commits[release_id, phase]

    async def _read_live_commit(self) -> str | None:
        """The commit the live color runs: its build's REVISION, or the checkout's HEAD when it runs the
        checkout itself (no release promoted yet, as after `stack up`)."""
        _, build = self.store.live()
        revision = Path(build) / "REVISION" if build else None
        if revision is not None and revision.exists():
            return revision.read_text().strip() or None
        run = await run_tool(["git", "rev-parse", "HEAD"], cwd=self.settings.home, kill_after=30)
        return run.stdout.decode().strip() or None if run.exit_code == 0 else None

    def _keep_deployment(self, release_id: str, deployment: Deployment) -> None:
        """The deployment goes into the release's row, without the gates' key: that stays in a file only
        root can read, in the release's folder, until the release ends (`release approve` runs later)."""
        kept = msgspec.structs.replace(deployment, api_key=None)
        self.store.update(
            release_id,
            candidate_url=deployment.url,
            build_dir=deployment.build_dir,
            commit_sha=deployment.commit,
            deployment=kept,
        )
        if deployment.api_key:
            key = self._key_file(release_id)
            key.parent.mkdir(parents=True, exist_ok=True)
            key.touch(mode=0o600)
            key.write_text(deployment.api_key)

    def _key_file(self, release_id: str) -> Path:
        return self._folder(release_id) / "gates.key"

    def _gates_key(self, release_id: str) -> str | None:
        key = self._key_file(release_id)
        return key.read_text().strip() if key.exists() else None

    async def _gates(
        self, release_id: str, loaded: LoadedPolicy, phase: str, target: str, deployment: Deployment | None
    ) -> list[GateResult]:
        specs = [g for g in loaded.policy.gates if g.phase == phase]
        if not specs:
            return []

        async def last_promoted(gate: str, check: str) -> float | None:
            return self.store.last_promoted_value(gate, check)

        self.store.plan_gates(release_id, phase, [(s.id, s.uses, s.required) for s in specs])

        def on_event(kind: str, spec: Any, result: GateResult | None) -> None:
            if kind == "started":
                self.store.gate_started(release_id, phase, spec.id)
            elif result is not None:  # on the dashboard at once, not when the whole phase is done
                self.store.save_results(release_id, apply_waivers([result], self.store.waivers(release_id)))
            if self.on_gate is not None:
                self.on_gate(kind, spec, result)
            elif kind == "started":
                self.say(f"gate {spec.id} ({spec.uses}) started")
            elif result is not None:
                self.say(f"gate {spec.id}: {result.verdict}: {result.reason}")
            if kind == "finished" and result is not None and spec.required and result.verdict in ("fail", "error"):
                reason = f"`{spec.id}` is {result.verdict}: {result.reason}"
                self._notify(release_id, "gate_failed", reason, key=f"{phase}/{spec.id}", results=[result])

        options = RunOptions(
            target=target,
            workdir=self._folder(release_id) / "gates" / phase,
            baseline_url=deployment.live_url if deployment is not None and phase == "pre" else None,
            api_key=self._gates_key(release_id),
            home=self.settings.home,
            release_id=release_id,
            last_promoted=last_promoted,
            on_event=on_event,
            source_dir=Path(deployment.source_dir) if deployment and deployment.source_dir else None,
            python=deployment.python if deployment else None,
            live_commit=await self._live_commit(release_id, phase),
            color=self.store.get(release_id).candidate_color,
        )
        runner = Runner(loaded, self.registry.gates, options, self.hooks)
        results = await runner.run(phase)
        results = apply_waivers(results, self.store.waivers(release_id))
        self.store.save_results(release_id, results)
        for result in results:
            self.store.event(release_id, f"gate-{result.verdict}", f"{result.gate}: {result.reason}")
        return results

    def _finish_blocked(self, release_id: str, decision: Decision) -> Release:
        self.store.update(release_id, decision=decision)
        self._transition(release_id, "blocked", decision.reason)
        self._reports(release_id)
        return self.store.get(release_id)

    def _transition(
        self, release_id: str, to: str, message: str, who: str = "reelgate", trigger: str | None = None
    ) -> None:
        """Every state change: the store keeps it in the timeline, then the plugins hear of it, then the
        policy's notifiers (as `trigger`, or what the state means by default)."""
        self.store.transition(release_id, to, message, who)
        self._hook("release_state_changed", release_id=release_id, state=to, reason=message, actor=who)
        trigger = trigger or STATE_TRIGGERS.get(to)
        if trigger:
            self._notify(release_id, trigger, message)

    def _notifications(self, policy_file: str) -> Notifications | None:
        if policy_file not in self._notifiers:
            reg = self.registry
            try:
                loaded = load_policy(policy_file, reg.gates, reg.routers, reg.deployers, reg.notifiers)
                self._notifiers[policy_file] = Notifications(
                    loaded, reg.notifiers, self.settings.db_url, self.settings.dashboard_url
                )
            except PolicyError as exc:  # the file changed or went since the release started
                log.warning("no notifications: %s", exc)
                self._notifiers[policy_file] = None
        return self._notifiers[policy_file]

    def _notify(self, release_id: str, trigger: str, reason: str, key: str = "", results: Any = None) -> None:
        """Tell the policy's notifiers, in the background: a notification never holds a release up."""
        release = self.store.get(release_id)
        notifications = self._notifications(release.policy_file)
        if notifications is not None and notifications.wants(trigger):  # no reads for a policy without `notify`
            found = self.store.results(release_id) if results is None else results
            report = str(self.report_path(release_id))
            notifications.emit(trigger, release_id, release.candidate, release.state, reason, found, report, key)

    def close(self) -> None:
        """Wait (bounded) for the notifications under way; called as the command exits."""
        for notifications in self._notifiers.values():
            if notifications is not None:
                notifications.close()

    def _hook(self, name: str, **kwargs: Any) -> None:
        """An event hook; a notification never breaks a release."""
        if self.hooks is None:
            return
        try:
            getattr(self.hooks, name)(**kwargs)
        except Exception:
            log.exception("a %s hook failed", name)

    async def _stop_quietly(self, deployer: Any, color: str, drain_to: str | None = None) -> None:
        try:
            await deployer.stop(color, drain_to)
        except DeployError as exc:
            self.say(f"warning: stopping {color} failed: {exc}")

    async def _cleanup(self, deployer: Deployer, release_id: str) -> None:
        """Once a release has ended: the deployer's own cleanup (the local one deletes the gates' tenant
        with what they uploaded; the evidence stays in the release's folder), then the gates' key."""
        cleanup = getattr(deployer, "cleanup", None)
        if cleanup is not None:
            try:
                await cleanup(release_id)
            except DeployError as exc:
                self.say(f"warning: cleaning up after {release_id} failed: {exc}")
        self._key_file(release_id).unlink(missing_ok=True)

    def _reports(self, release_id: str) -> list[Path]:
        release = self.store.get(release_id)
        return write_reports(
            release_id,
            release.candidate,
            release.policy_name,
            release.state,
            release.decision,
            self.store.results(release_id),
            self.store.timeline(release_id),
            self._folder(release_id) / "reports",
            self.registry.reporters,
        )

    def report_path(self, release_id: str) -> Path:
        return self._folder(release_id) / "reports" / "report.html"
