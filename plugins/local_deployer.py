"""`local`: build the candidate from a git worktree and run it as the other color on this machine.

Steps, each failing with the step named: resolve REF to a commit; `git
worktree add` it under `var/releases/<id>/src`; build a wheel from it and
install it into `var/builds/<commit>/.venv` (once per commit: a later release
of the same commit reuses the build); run the candidate's own `reelgate db
upgrade` (migrations are expand-then-contract, so the live color keeps
working); start its API and worker as the candidate color
(`reelgate stack color start`), on that color's port and queue.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import DeployError, Deployment, hookimpl
from reelgate.gates.settings import engine_settings


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    extras: list[str] = []
    """Extras to install with the candidate (e.g. `[test]`, for gates that run its tests)."""
    python: str = "python3"
    """Interpreter for the candidate's venv."""
    repo: str = ""
    """The git repository to build from; defaults to the checkout running the release."""
    keep_builds: int = 3
    """Builds kept under `var/builds` after a release, newest first; a build a color runs is always kept."""


async def run(args: list[str], cwd: Path, log: Path, step: str, env: dict[str, str] | None = None) -> str:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(args)}\n".encode())
        out.flush()
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=out,
            env=env,
        )
        try:
            stdout, _ = await proc.communicate()
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        out.write(stdout)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise DeployError(f"{step} failed (exit {proc.returncode}); see {log}: {' | '.join(tail)}")
    return stdout.decode().strip()


class LocalDeployer:
    name = "local"
    Config = Config

    def __init__(self, config: Config, home: Path) -> None:
        self.config, self.home = config, home
        self.repo = Path(config.repo) if config.repo else home
        self.reelgate = str(Path(sys.executable).parent / "reelgate")

    def _env(self) -> dict[str, str]:
        return {**os.environ, "REELGATE_HOME": str(self.home)}

    async def deploy(self, release_id: str, ref: str, color: str, say: Callable[[str], None]) -> Deployment:
        folder = self.home / "var" / "releases" / release_id
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "deploy.log"
        src = folder / "src"
        commit = await run(
            ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], self.repo, log, f"resolving {ref!r} to a commit"
        )
        if not src.exists():
            await run(["git", "worktree", "add", "--detach", str(src), commit], self.repo, log, "git worktree add")
        # One build per commit and extras: a second release of the same commit reuses it.
        extras = f"[{','.join(sorted(self.config.extras))}]" if self.config.extras else ""
        build = self.home / "var" / "builds" / f"{commit}{extras.replace(',', '+')}"
        venv = build / ".venv"
        if (build / "complete").exists():
            say(f"reusing the build of {ref} ({commit[:12]})")
        else:
            say(f"building {ref} ({commit[:12]})")
            shutil.rmtree(build, ignore_errors=True)
            dist = build / "dist"
            await run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), f"{src}/"],
                folder,
                log,
                "building the wheel",
            )
            wheels = sorted(dist.glob("reelgate-*.whl"))
            if not wheels:
                raise DeployError(f"building the wheel produced nothing in {dist}")
            await run([self.config.python, "-m", "venv", str(venv)], folder, log, "creating the venv")
            say("installing the candidate build")
            await run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheels[-1]}{extras}"],
                folder,
                log,
                "installing the wheel",
            )
            # The build reports its own commit on /health/version (it has no git checkout of its own).
            (venv / "REVISION").write_text(commit + "\n")
            (build / "complete").write_text(commit + "\n")
        say("applying the candidate's migrations")
        await run([str(venv / "bin" / "reelgate"), "db", "upgrade"], self.home, log, "reelgate db upgrade", self._env())
        say(f"starting the candidate as {color}")
        await self.start(color, str(venv))
        settings = engine_settings({**os.environ, "REELGATE_HOME": str(self.home)})
        return Deployment(
            url=settings.url(color),
            build_dir=str(venv),
            source_dir=str(src),
            commit=commit,
            python=str(venv / "bin" / "python"),
        )

    async def start(self, color: str, build_dir: str | None) -> None:
        args = [self.reelgate, "stack", "color", "start", color]
        if build_dir:
            args += ["--build", build_dir]
        log = self.home / "var" / "log" / "deployer.log"
        await run(args, self.home, log, f"starting {color}", self._env())

    async def stop(self, color: str, drain_to: str | None = None) -> None:
        args = [self.reelgate, "stack", "color", "stop", color] + (["--drain-to", drain_to] if drain_to else [])
        await run(args, self.home, self.home / "var" / "log" / "deployer.log", f"stopping {color}", self._env())

    async def cleanup(self, release_id: str) -> None:
        """Remove the release's source worktree (its build stays, for a rollback) and old builds."""
        src = self.home / "var" / "releases" / release_id / "src"
        if src.exists():
            proc = await asyncio.create_subprocess_exec(
                "git",
                "worktree",
                "remove",
                "--force",
                str(src),
                cwd=self.repo,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await proc.wait()
            shutil.rmtree(src, ignore_errors=True)
        await asyncio.to_thread(prune_builds, self.home, self.config.keep_builds)


def prune_builds(home: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest finished builds, never one a color runs; return what went."""
    builds = home / "var" / "builds"
    colors = home / "var" / "colors"
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
