"""`local`: build the candidate from a git worktree and run it as the other color on this machine.

Steps, each failing with the step named: resolve REF to a commit; `git
worktree add` it under `var/releases/<id>/src`; build a wheel from it and
install it into `var/builds/<commit>[+extras]/.venv` with the dependencies of
the candidate's own `requirements/lock.txt`, hashes checked (once per commit:
a later release of the same commit reuses the build); run the candidate's own `reelgate db
upgrade` (migrations are expand-then-contract, so the live color keeps
working); start its API and worker as the candidate color
(`reelgate stack color start`), on that color's port and queue; make the
gates' tenant `gates-<release id>` on the stack's database (deleted by
`cleanup` when the release ends). The checkout's CLI is asked with `--json`.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.gates.api import (
    Checkout,
    DeployError,
    Deployment,
    PluginContext,
    Say,
    ToolNotFound,
    ToolRun,
    hookimpl,
    run_tool,
)


class LocalDeployerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    extras: list[str] = []
    """Extras to install with the candidate (e.g. `[test]`, for gates that run its tests)."""
    python: str = "python3"
    """Interpreter for the candidate's venv."""
    repo: str = ""
    """The git repository to build from; defaults to the checkout running the release."""
    keep_builds: int = 3
    """Builds kept under `var/builds` after a release, newest first; a build a color runs is always kept."""
    step_timeout: float = 900
    """Seconds any one step (a build, a migration, a start) may take before the deploy fails."""


A = TypeVar("A", bound=answers.Answer)
LOCK = "requirements/lock.txt"
"""A candidate's dependencies, pinned with hashes, in its own source (`scripts/lock` writes it)."""


def gates_tenant(release_id: str) -> str:
    """The tenant a release's gates use, on the local stack's database."""
    return f"gates-{release_id}"


class LocalDeployer:
    name = "local"
    Config = LocalDeployerConfig

    def __init__(self, config: LocalDeployerConfig, ctx: PluginContext) -> None:
        self.config, self.ctx, self.home = config, ctx, ctx.home
        self.repo = Path(config.repo) if config.repo else ctx.home

    async def _run(
        self,
        args: list[str],
        cwd: Path,
        log: Path,
        step: str,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> ToolRun:
        """One step: its output goes to `log`; a failure is a DeployError naming the step and the log's tail
        (with `check` off, a non-zero exit is the caller's to read: a `--json` command's Failure answer)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            run = await run_tool(args, cwd=cwd, env=env, log=log, kill_after=self.config.step_timeout)
        except ToolNotFound as exc:
            raise DeployError(f"{step} failed: {exc}") from None
        if run.timed_out:
            raise DeployError(f"{step} did not finish within {self.config.step_timeout:g} s; see {log}")
        if check and run.exit_code != 0:
            raise DeployError(f"{step} failed (exit {run.exit_code}); see {log}: {run.tail()}")
        return run

    async def _reelgate(self, step: str, kind: type[A], *args: str) -> A:
        """The checkout's own CLI with `--json`, its answer decoded strictly as `kind`; a command that failed
        is a DeployError carrying the Failure's code (`no_such_tenant`...), which callers decide on."""
        log = self.ctx.var / "log" / "deployer.log"
        run = await self._run([self.ctx.reelgate, *args, "--json"], self.home, log, step, self.ctx.env(), check=False)
        try:
            answer = run.answer(kind)
        except ValueError as exc:
            raise DeployError(f"{step}: `reelgate {' '.join(args)} --json` (exit {run.exit_code}): {exc}") from None
        if isinstance(answer, answers.Failure):
            raise DeployError(f"{step} failed: {answer.message}", code=answer.error)
        return answer

    async def checkout(self, folder: Path, ref: str, say: Say, build: bool = True) -> Checkout:
        """`ref` as a source tree in `folder/src` and, with `build`, its build (a venv, one per commit and
        extras, reused by a later release of the same commit); nothing is started."""
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "deploy.log"
        src = folder / "src"
        resolve = ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"]
        commit = (await self._run(resolve, self.repo, log, f"resolving {ref!r} to a commit")).stdout.decode().strip()
        if not src.exists():
            await self._run(
                ["git", "worktree", "add", "--detach", str(src), commit], self.repo, log, "git worktree add"
            )
        if not build:
            return Checkout(commit=commit, source_dir=str(src))
        venv = await self._build(folder, src, commit, ref, log, say)
        return Checkout(commit=commit, source_dir=str(src), python=str(venv / "bin" / "python"), build_dir=str(venv))

    async def remove_checkout(self, folder: Path) -> None:
        """Remove `folder/src` (the worktree); its build stays, for a rollback or the next run."""
        src = folder / "src"
        if src.exists():
            await run_tool(["git", "worktree", "remove", "--force", str(src)], cwd=self.repo, kill_after=60)
            shutil.rmtree(src, ignore_errors=True)

    async def _build(self, folder: Path, src: Path, commit: str, ref: str, log: Path, say: Say) -> Path:
        # One build per commit and extras: a second release of the same commit reuses it.
        extras = f"[{','.join(sorted(self.config.extras))}]" if self.config.extras else ""
        # A venv records its own absolute path: build where `var/builds` really is (it may be a link). The
        # name holds no glob character (`<commit>+test`, not `<commit>[test]`): tools read paths as patterns.
        named = contract.build_dir(self.ctx.var, commit, self.config.extras)
        build = named.parent.resolve() / named.name
        venv = build / ".venv"
        if (build / "complete").exists():
            say(f"reusing the build of {ref} ({commit[:12]})")
        else:
            say(f"building {ref} ({commit[:12]})")
            shutil.rmtree(build, ignore_errors=True)
            dist = build / "dist"
            wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), f"{src}/"]
            await self._run(wheel, folder, log, "building the wheel")
            wheels = sorted(dist.glob("reelgate-*.whl"))
            if not wheels:
                raise DeployError(f"building the wheel produced nothing in {dist}")
            await self._run([self.config.python, "-m", "venv", str(venv)], folder, log, "creating the venv")
            say("installing the candidate build")
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            lock = src / LOCK
            if lock.exists():  # the candidate's own lock: the versions its commit was tested with, hashes checked
                await self._run(
                    [*pip, "--require-hashes", "--no-deps", "-r", str(lock)], folder, log, "installing the lock"
                )
                await self._run([*pip, "--no-deps", str(wheels[-1])], folder, log, "installing the wheel")
            else:  # a commit from before the lock: resolved as it always was
                say(f"warning: {ref} has no {LOCK}; its dependencies are resolved afresh, not locked")
                await self._run([*pip, f"{wheels[-1]}{extras}"], folder, log, "installing the wheel")
            # The build reports its own commit on /health/version (it has no git checkout of its own).
            (venv / "REVISION").write_text(commit + "\n")
            (build / "complete").write_text(commit + "\n")
        return venv

    async def deploy(self, release_id: str, ref: str, color: str, say: Say) -> Deployment:
        folder = contract.release_dir(self.ctx.var, release_id)
        checkout = await self.checkout(folder, ref, say)
        venv = Path(checkout.build_dir or "")
        log = folder / "deploy.log"
        say("applying the candidate's migrations")
        # The candidate's own CLI (it may be an older release): only its exit code is read.
        upgrade = [str(venv / "bin" / "reelgate"), "db", "upgrade"]
        await self._run(upgrade, self.home, log, "reelgate db upgrade", self.ctx.env())
        say(f"starting the candidate as {color}")
        await self.start(color, str(venv))
        # Both colors share this stack's database, so the gates' tenant is made there, with no rate limit.
        tenant = await self._reelgate(
            "creating the gates' tenant",
            answers.TenantCreated,
            "tenant", "create", gates_tenant(release_id), "--rate-limit", "0",
        )  # fmt: skip
        return Deployment(
            url=self.ctx.url(color),
            live_url=self.ctx.url(contract.other(color)),
            api_key=tenant.api_key,
            build_dir=checkout.build_dir,
            source_dir=checkout.source_dir,
            commit=checkout.commit,
            python=checkout.python,
        )

    async def start(self, color: str, build_dir: str | None) -> None:
        args = ["stack", "color", "start", color] + (["--build", build_dir] if build_dir else [])
        await self._reelgate(f"starting {color}", answers.ColorStarted, *args)

    async def stop(self, color: str, drain_to: str | None = None) -> None:
        args = ["stack", "color", "stop", color] + (["--drain-to", drain_to] if drain_to else [])
        await self._reelgate(f"stopping {color}", answers.ColorStopped, *args)

    async def cleanup(self, release_id: str) -> None:
        """Delete the gates' tenant with what they uploaded (the evidence stays in the release's folder),
        remove the release's source worktree (its build stays, for a rollback) and prune old builds."""
        try:
            tenant = gates_tenant(release_id)
            await self._reelgate(
                "deleting the gates' tenant", answers.TenantDeleted, "tenant", "delete", "--yes", tenant
            )
        except DeployError as exc:
            if exc.code != "no_such_tenant":  # a deploy that failed before making it
                raise
        await self.remove_checkout(contract.release_dir(self.ctx.var, release_id))
        await asyncio.to_thread(prune_builds, self.home, self.config.keep_builds)


def prune_builds(home: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest finished builds, never one a color runs; return what went."""
    builds = contract.builds_dir(home / "var")
    colors = contract.color_link(home / "var", "blue").parent
    in_use = {link.resolve().parent for link in colors.iterdir()} if colors.is_dir() else set()
    finished = sorted(
        (b for b in builds.iterdir() if (b / "complete").exists()) if builds.is_dir() else [],
        key=lambda b: (b / "complete").stat().st_mtime,
        reverse=True,
    )
    removed = [b for b in finished[keep:] if b.resolve() not in in_use]
    for build in removed:
        shutil.rmtree(build, ignore_errors=True)
    return removed


@hookimpl
def register_deployers(register: Any) -> None:
    register(LocalDeployer)
