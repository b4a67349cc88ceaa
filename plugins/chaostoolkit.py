"""`chaostoolkit`: chaos experiments against one color, with Chaos Toolkit, and what they cost.

For each experiment (`chaos/experiments/*.yaml`) the gate:
1. refuses it unless its blast radius is allowed: an experiment tagged `shared` (PostgreSQL,
   Valkey, the disk: what the live color shares) needs `blast_radius: shared` and a reason;
2. uploads a new 20 s 720p clip as the gates' tenant, so a job is in flight when the fault lands
   (a clip already done when the fault began, by the last read before it, or a worker kill that
   found no ffmpeg running, adds a `job_in_flight` warning);
3. reads the target at a steady rate all through the experiment;
4. runs `chaos --no-version-check run` on it (the actions in `reelgate.chaos`), with the color
   and the stack in the environment, and reads the journal: a steady state that did not hold
   *before* the method ran is `error` (Chaos Toolkit calls that run `completed`);
5. measures: recovery time (from when the fault is lifted, at once for a kill, until the color
   answers its readiness probe and the in-flight video is done), when reads were answered again (the
   last failed read), requests failed and availability during the experiment, and jobs lost
   (accepted videos that did not end `ready`; any blocks).

`reelgate chaos run EXPERIMENT...` runs experiments of any blast radius the same way, against a
stack started for the purpose under `var/chaos-stack` with its own ports, never the live one.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import click
import httpx
import msgspec
from ruamel.yaml import YAML

from reelgate.contract import answers
from reelgate.contract import stack as contract
from reelgate.gates.api import (
    Check,
    GateContext,
    GateResult,
    ToolNotFound,
    hookimpl,
    measured,
    run_tool,
    unmeasured,
    worst,
)
from reelgate.gates.model import Verdict
from reelgate.gates.settings import engine_settings

TERMINAL = ("ready", "failed")


class ChaosConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    experiments: list[str] = msgspec.field(
        default_factory=lambda: ["chaos/experiments/worker-kill.yaml", "chaos/experiments/api-kill.yaml"]
    )
    """Experiment files, relative to the candidate's source (in a release) or the working folder."""
    color: str = ""
    """The color to act on; in a release, the candidate's (and nothing else is allowed)."""
    blast_radius: Literal["color", "shared"] = "color"
    """`color`: only experiments on the target color's own processes. `shared`: also PostgreSQL,
    Valkey and the disk, which the live color shares; needs `reason`."""
    reason: str = ""
    rps: float = 20
    """Reads per second against the target during each experiment."""
    recovery_within_s: float = 60
    """How long to wait for recovery after the experiment; longer counts as not recovered."""
    timeout_s: float = 180
    """Each `chaos run` is stopped after this long."""

    def __post_init__(self) -> None:
        if self.blast_radius == "shared" and not self.reason.strip():
            raise ValueError("blast_radius: shared needs a `reason`: the live color will feel it")


class Sample(msgspec.Struct, array_like=True):
    at: float
    status: int
    """HTTP status, or 0 when no answer came."""
    clip: str = ""
    """The in-flight clip's status in that answer's list ("" when it was not in it)."""


async def read_steadily(
    client: httpx.AsyncClient, rps: float, stop: asyncio.Event, samples: list[Sample], clip_id: str = ""
) -> None:
    """GET the target's video list at `rps` until `stop`; every answer (or its absence) is a sample, with
    where the in-flight clip stood then."""
    interval = 1 / rps
    while not stop.is_set():
        started = time.time()
        clip = ""
        try:
            answer = await client.get("/v1/videos?limit=5")
            status = answer.status_code
            if status == 200:
                clip = next((str(v["status"]) for v in answer.json()["items"] if v.get("id") == clip_id), "")
        except httpx.HTTPError:
            status = 0
        except (ValueError, KeyError, TypeError):
            pass  # an answer that is not the list: its status says enough
        samples.append(Sample(at=started, status=status, clip=clip))
        await asyncio.sleep(max(0.0, interval - (time.time() - started)))


def clip_at(samples: list[Sample], moment: float) -> str:
    """The in-flight clip's status in the last answer before `moment` ("" when unknown)."""
    return next((s.clip for s in reversed(samples) if s.at <= moment and s.clip), "")


def _unix(stamp: object) -> float:
    moment = datetime.fromisoformat(str(stamp))
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


def _fault_run(journal: dict[str, Any]) -> dict[str, Any] | None:
    """The method's fault: its first action to start. (A fault run in the background is journaled when it
    ends, after the probes that ran during it, so the order of `run` does not say.)"""
    actions = [r for r in journal.get("run") or [] if r.get("activity", {}).get("type", "action") == "action"]
    return min(actions, key=lambda r: str(r.get("start") or "~"), default=None)


def fault_time(journal: dict[str, Any]) -> float | None:
    """When the fault started, as a Unix time."""
    run = _fault_run(journal)
    return _unix(run["start"]) if run and run.get("start") else None


def fault_lifted(journal: dict[str, Any]) -> float | None:
    """When it ended: at once for a kill, after the outage or pause for the others."""
    run = _fault_run(journal)
    return _unix(run["end"]) if run and run.get("end") else fault_time(journal)


def method_probes(journal: dict[str, Any]) -> list[Check]:
    """A check for each probe in the method: one that returned seconds is reported (e.g. how long HAProxy
    took to mark a killed API down, then up again); one that returned true or false passes or fails (e.g.
    a scenario run while Valkey is away)."""
    checks = []
    for run in journal.get("run") or []:
        name, output = str(run.get("activity", {}).get("name")), run.get("output")
        if run.get("activity", {}).get("type") != "probe":
            continue
        if isinstance(output, bool):
            checks.append(Check(name=name, value=float(output), verdict="pass" if output else "fail"))
        elif isinstance(output, int | float):
            checks.append(Check(name=name, value=float(output), unit="s"))
    return checks


def journal_problem(journal: dict[str, Any]) -> str | None:
    """Why the journal does not count as a measured experiment, or None."""
    before = (journal.get("steady_states") or {}).get("before") or {}
    if not before.get("steady_state_met"):
        missed = [
            f"{p.get('activity', {}).get('name')} gave {str(p.get('output'))[:80]}"
            for p in before.get("probes") or []
            if not p.get("tolerance_met")
        ]
        why = f" ({'; '.join(missed)}; chaos.log says more)" if missed else ""
        return f"the steady state did not hold before the fault, so the experiment measured nothing{why}"
    if journal.get("status") not in ("completed", "failed"):
        return f"Chaos Toolkit ended the run {journal.get('status')!r}"
    failed = [r for r in journal.get("run") or [] if r.get("status") != "succeeded"]
    if failed:
        activity = failed[0].get("activity", {})
        what = f"the {activity.get('type', 'action')} {activity.get('name', '?')!r}"
        return f"{what} failed: {exception_sentence(failed[0].get('exception'))} (its traceback is in journal.json)"
    return None


def exception_sentence(exception: object) -> str:
    """The message of the exception Chaos Toolkit journals as a traceback (a list of lines), without the
    traceback: `RuntimeError: HAProxy did not ...` becomes `HAProxy did not ...`."""
    lines = exception if isinstance(exception, list) else str(exception or "").splitlines()
    text = "".join(str(line) for line in lines).strip().splitlines()
    last = next((line.strip() for line in reversed(text) if line.strip()), "no message")
    name, sep, message = last.partition(": ")
    return message.strip() if sep and name.replace(".", "").isidentifier() else last


def experiment_tags(path: Path) -> tuple[str, list[str]]:
    data = YAML(typ="safe").load(path.read_text()) or {}
    return str(data.get("title", path.stem)), [str(t) for t in data.get("tags") or []]


class ChaosGate:
    name = "chaostoolkit"
    needs = frozenset({"url", "local_processes"})
    """It kills and starves the candidate's processes on this machine: never a remote candidate."""
    Config = ChaosConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: ChaosConfig = ctx.config
        color = config.color or ctx.color or ""
        if not contract.is_color(color):
            return unmeasured("no color to act on: set `color` (blue or green)")
        if ctx.color and color != ctx.color:
            return unmeasured(f"in a release the gate acts on the candidate ({ctx.color})")
        if not ctx.api_key:
            return unmeasured("no key of a tenant to upload and read as")
        root = ctx.source_dir or ctx.home
        checks: list[Check] = []
        artifacts: list[str] = []
        for name in config.experiments:
            path = Path(name) if Path(name).is_absolute() else root / name
            try:
                title, tags = experiment_tags(path)
            except (OSError, ValueError) as exc:
                return unmeasured(f"cannot read the experiment {path}: {exc}")
            if "shared" in tags and config.blast_radius != "shared":
                return unmeasured(
                    f"{path.name} acts on what the live color shares (tag `shared`): run it with `reelgate chaos "
                    "run` on a stack of its own, or set blast_radius: shared with a reason",
                )
            outcome = await self._experiment(ctx, config, color, path)
            if isinstance(outcome, str):
                return unmeasured(f"{path.stem}: {outcome}")
            found, files = outcome
            checks += [msgspec.structs.replace(c, name=f"{path.stem}.{c.name}", note=c.note or title) for c in found]
            artifacts += files
        return measured(checks=checks, artifacts=artifacts)

    async def _experiment(
        self, ctx: GateContext, config: ChaosConfig, color: str, path: Path
    ) -> tuple[list[Check], list[str]] | str:
        from reelgate.gates.api import make_clip

        workdir = ctx.workdir / path.stem
        workdir.mkdir(parents=True, exist_ok=True)
        journal_path, log = workdir / "journal.json", workdir / "chaos.log"
        settings = engine_settings()
        env = {
            **os.environ,
            "REELGATE_HOME": str(settings.home),
            "REELGATE_PORT_BASE": str(settings.port_base),
            "REELGATE_CHAOS_COLOR": color,
            "REELGATE_CHAOS_API_KEY": ctx.api_key or "",  # the steady state's scenario runs as the gates' tenant
            "REELGATE_CHAOS_SOURCE": str(ctx.source_dir or ctx.home),  # where its file is
        }
        chaos = Path(sys.executable).parent / "chaos"
        headers = {"Authorization": f"Bearer {ctx.api_key}"}
        async with httpx.AsyncClient(base_url=ctx.target, headers=headers, timeout=10) as client:
            # A new file each time: the platform would reuse the renditions of one it has seen, and no job
            # would be in flight.
            clip = await make_clip(workdir / "in-flight.mp4", seconds=20, size="1280x720", tag=uuid.uuid4().hex)
            with clip.open("rb") as fh:
                uploaded = await client.post("/v1/videos", files={"file": ("in-flight.mp4", fh, "video/mp4")})
            if uploaded.status_code != 202:
                return f"the in-flight upload was refused ({uploaded.status_code}): {uploaded.text[:200]}"
            video_url = uploaded.json()["url"]
            stop, samples = asyncio.Event(), list[Sample]()
            clip_id = uploaded.json()["id"]
            reader = asyncio.create_task(read_steadily(client, config.rps, stop, samples, clip_id))
            try:
                run = await run_tool(
                    [str(chaos), "--no-version-check", "--log-file", str(log), "run", "--rollback-strategy",
                     "always", "--journal-path", str(journal_path), str(path)],
                    env=env,
                    kill_after=config.timeout_s,
                )  # fmt: skip
                recovered_at = await self._recovery(client, config, color, settings, video_url)
            except ToolNotFound:
                return f"Chaos Toolkit is not installed ({chaos})"
            finally:
                stop.set()
                await reader
            video = (await client.get(video_url)).json()
        if run.timed_out:
            return f"`chaos run` did not finish within {config.timeout_s:g} s"
        if not journal_path.exists():
            return f"`chaos run` wrote no journal (exit {run.exit_code}): {run.tail()}"
        journal = json.loads(journal_path.read_text())
        problem = journal_problem(journal)
        fault = fault_time(journal)
        if problem or fault is None:
            return problem or "the journal has no method run"
        checks = self._checks(samples, fault, recovered_at, video, journal, fault_lifted(journal) or fault)
        checks += method_probes(journal)
        output = (_fault_run(journal) or {}).get("output")
        killed = output if isinstance(output, dict) else {}
        idle_worker = str(killed.get("part", "")).startswith("worker") and killed.get("children_killed") == 0
        at_fault = clip_at(samples, fault)
        if at_fault in TERMINAL or idle_worker:  # jobs_lost then says nothing about a job cut short
            note = (
                f"the clip was {at_fault} when the fault began"
                if at_fault in TERMINAL
                else "the worker ran no ffmpeg when it died"
            )
            checks.append(Check(name="job_in_flight", value=0.0, verdict="warn", note=note))
        return checks, [str(journal_path), str(log)]

    async def _recovery(
        self, client: httpx.AsyncClient, config: ChaosConfig, color: str, settings: Any, video_url: str
    ) -> float | None:
        """When the color answers its readiness probe again and the in-flight video is done (None: not
        within `recovery_within_s`)."""
        ready_url = f"http://127.0.0.1:{settings.port(color)}/health/ready"
        deadline = time.monotonic() + config.recovery_within_s
        while time.monotonic() < deadline:
            try:
                healthy = (await client.get(ready_url)).status_code == 200
                done = (await client.get(video_url)).json().get("status") in TERMINAL
            except (httpx.HTTPError, ValueError):
                healthy = done = False
            if healthy and done:
                return time.time()
            await asyncio.sleep(0.2)
        return None

    @staticmethod
    def _checks(
        samples: list[Sample],
        fault: float,
        recovered_at: float | None,
        video: dict[str, Any],
        journal: dict[str, Any],
        lifted: float | None = None,
    ) -> list[Check]:
        """`recovery_s` counts from when the fault was lifted (`lifted`, the end of a 30 s outage; the
        moment of a kill), `answered_again_s` from when it began."""
        failed = [s for s in samples if s.status == 0 or s.status >= 500]
        # When the target answered again: the last failed read after the fault (0: none failed).
        answered_again = round(max(0.0, max((s.at for s in failed), default=fault) - fault), 2)
        availability = 1 - len(failed) / len(samples) if samples else None
        lost = 0 if video.get("status") == "ready" else 1
        recovery = round(recovered_at - (lifted or fault), 2) if recovered_at is not None else None
        deviated: Verdict = "fail" if journal.get("deviated") else "pass"
        return [
            Check(name="recovery_s", value=recovery, unit="s", verdict="pass" if recovery is not None else "fail",
                  note="" if recovery is not None else "did not recover in time"),
            Check(name="answered_again_s", value=answered_again, unit="s",
                  note="the last failed read, from the fault" if failed else "no read failed"),
            Check(name="requests", value=float(len(samples)), unit="requests"),
            Check(name="requests_failed", value=float(len(failed)), unit="requests"),
            Check(name="availability", value=round(availability, 5) if availability is not None else None,
                  unit="ratio"),
            Check(name="jobs_lost", value=float(lost), unit="jobs", op="==", threshold=0,
                  verdict="fail" if lost else "pass",
                  note=f"the in-flight video ended {video.get('status')}: {video.get('failure_reason') or ''}"
                  if lost else ""),
            Check(name="steady_state_after", value=0.0 if journal.get("deviated") else 1.0, verdict=deviated,
                  note="the steady state did not hold after the fault" if journal.get("deviated") else ""),
        ]  # fmt: skip


@hookimpl
def register_gates(register: Any) -> None:
    register(ChaosGate)


def prepare_chaos_home(home: Path, media_volume_mb: int) -> bool:
    """Before its stack starts: what a stack for shared experiments has and a live one does not, the
    dependency proxy and (as root) a media volume of its own. False when no volume could be mounted."""
    from reelgate.chaos.disk import mount_volume

    (home / "reelgate.toml").write_text(
        "# written by `reelgate chaos run`\ndependency_proxy = true\nmin_free_mb = 64  # a small media volume\n"
    )
    if os.geteuid() != 0:
        return False
    mount_volume(home / "var" / "media", home / "media.img", media_volume_mb)
    return True


@click.group()
def chaos() -> None:
    """Chaos experiments on a stack started for the purpose."""


@chaos.command("check")
@click.argument("experiments", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def chaos_check(experiments: tuple[Path, ...]) -> None:
    """Validate EXPERIMENTS with Chaos Toolkit (`chaos validate`), acting on nothing: the color and the key the
    gate would give them are stand-ins here (a plain `chaos validate` stops at the missing
    REELGATE_CHAOS_COLOR). Chaos Toolkit's own log goes to a temporary folder, never the working one: its
    errors are printed."""
    import tempfile

    log = Path(tempfile.mkdtemp(prefix="reelgate-chaos-check-")) / "chaostoolkit.log"
    env = {"REELGATE_CHAOS_COLOR": "blue", "REELGATE_CHAOS_API_KEY": "stand-in-for-the-gates-key", **os.environ}
    chaos_bin = Path(sys.executable).parent / "chaos"
    bad = 0
    for path in experiments:
        run = subprocess.run(
            [str(chaos_bin), "--no-version-check", "--log-file", str(log), "validate", str(path)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if run.returncode == 0:
            click.echo(f"{path}: ok: {experiment_tags(path)[0]}")
            continue
        bad += 1
        errors = [line.split("] ", 1)[-1] for line in run.stderr.splitlines() if "ERROR]" in line]
        click.echo(f"{path}: {'; '.join(errors) or run.stderr.strip()[-300:]}", err=True)
    shutil.rmtree(log.parent, ignore_errors=True)
    if bad:
        raise click.exceptions.Exit(2)


@chaos.command("run")
@click.argument("experiments", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port-base", type=int, default=8500, show_default=True, help="The purpose-built stack's ports.")
@click.option("--keep", is_flag=True, help="Leave that stack running afterwards.")
@click.option(
    "--media-volume-mb",
    type=click.IntRange(64, 4096),
    default=1024,
    show_default=True,
    help="Size of the loop-file volume mounted, new and empty, at the stack's media folder (the disk "
    "experiments fill it).",
)
def chaos_run(experiments: tuple[Path, ...], port_base: int, keep: bool, media_volume_mb: int) -> None:
    """Run EXPERIMENTS (any blast radius) against a stack of their own under `var/chaos-stack`, never the
    live one, and report recovery time, failed requests, availability and jobs lost for each.

    That stack reaches PostgreSQL and Valkey through the chaos proxy (the latency and drop actions), and
    keeps its media on a volume of its own, a loop file of `--media-volume-mb` (the disk actions)."""
    from reelgate.chaos.disk import unmount_volume
    from reelgate.gates.console import show_result

    home = (engine_settings().var / "chaos-stack").resolve()
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)  # the postgres user must enter it
    media = home / "var" / "media"
    reelgate = str(Path(sys.executable).parent / "reelgate")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")},
        "REELGATE_HOME": str(home),
        "REELGATE_PORT_BASE": str(port_base),
    }

    def cli(*args: str) -> str:
        done = subprocess.run([reelgate, *args], env=env, cwd=home, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise click.ClickException(f"reelgate {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    click.echo(f"starting a stack for the experiments in {home} (ports {port_base}-{port_base + 4})", err=True)
    try:
        if not prepare_chaos_home(home, media_volume_mb):
            click.echo("not root: no media volume is mounted, so the disk experiments will refuse to run", err=True)
        cli("stack", "up")
        made = answers.decode(cli("tenant", "create", f"chaos-{int(time.time())}", "--rate-limit", "0", "--json"),
                              answers.TenantCreated)  # fmt: skip
        if isinstance(made, answers.Failure):
            raise click.ClickException(made.message)
        color = httpx.get(f"http://127.0.0.1:{port_base}/health/version", timeout=5).json()["color"]
        os.environ.update(REELGATE_HOME=str(home), REELGATE_PORT_BASE=str(port_base))  # for the gate
        config = {
            "experiments": [str(p.resolve()) for p in experiments],
            "color": color,
            "blast_radius": "shared",
            "reason": "reelgate chaos run: a stack of its own",
        }
        workdir = home / "runs" / time.strftime("%Y%m%d-%H%M%S")
        workdir.mkdir(parents=True)
        ctx = GateContext(
            gate_id="chaos",
            target=f"http://127.0.0.1:{contract.port(port_base, color)}",
            config=msgspec.convert(config, ChaosConfig),
            workdir=workdir,
            api_key=made.api_key,
            home=home,
            source_dir=Path.cwd(),  # scenario files in the experiments' steady state are relative to it
        )
        result = asyncio.run(ChaosGate().run(ctx))
        if result.verdict != "error":
            result.verdict = worst([c.verdict for c in result.checks])
        show_result(result)
        click.echo(f"journals and logs: {workdir}")
    except RuntimeError as exc:  # the media volume could not be made
        raise click.ClickException(str(exc)) from None
    finally:
        if not keep:
            subprocess.run([reelgate, "stack", "down"], env=env, cwd=home, capture_output=True, check=False)
            unmount_volume(media)
    if result.verdict in ("fail", "error"):
        raise click.exceptions.Exit(1)
