"""`vmaf`: does the target's ladder keep the picture, at what bitrate?

The gate makes a few reference clips with ffmpeg's own test sources (fine detail with grain, a
continuous zoom, smooth gradients: what encoders find hard), each tagged so the platform
transcodes it afresh, and uploads them to the target as the gates' tenant. When a clip is ready, the
gate downloads every rendition and scores it with libvmaf against the uploaded source scaled to the
rendition's size (bicubic, as a player would). A rendition's frames must all be scored.

Checks, per rung (`720p.vmaf_mean`, `720p.vmaf_p5`, `720p.kbps`; the mean over clips, the worst 5th
percentile, the mean bitrate) and for the whole ladder: `vmaf_mean`, the worst rung's mean, and
`kbps`, the rungs' bitrates added up. With `baseline: live` the engine runs the same gate against the
live color, so a policy can say "at most 1 point below live" and "at most 10 % more bits".

libvmaf is not in Debian's ffmpeg 5.1: the gate uses the static ffmpeg the `imageio-ffmpeg` wheel
ships (or `ffmpeg` in the config), and is `error` when that has no libvmaf.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from reelgate.gates.api import Check, GateContext, GateResult, ToolNotFound, hookimpl, measured, run_tool, unmeasured


class Clip(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    source: str
    """An ffmpeg lavfi graph that makes the picture; `{size}` is replaced by the clip's size. It must
    make the same picture every run (no random seed), or candidate and live are scored on different
    pictures."""


DEFAULT_CLIPS = [
    Clip(name="grain", source="testsrc2=size={size}:rate=30,noise=alls=8:allf=t+u"),
    Clip(name="zoom", source="mandelbrot=size={size}:rate=30"),
    # `gradients` picks random colors and positions unless they are given: the same picture every run.
    Clip(
        name="gradients",
        source="gradients=size={size}:rate=30:speed=0.03:n=3:c0=0x203050:c1=0xd0a070:c2=0x60b0e0"
        ":x0=0:y0=0:x1=1280:y1=720:seed=1",
    ),
]


class VmafConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    clips: list[Clip] = msgspec.field(default_factory=lambda: list(DEFAULT_CLIPS))
    seconds: float = 4
    """Length of each reference clip."""
    size: str = "1920x1080"
    """The reference clips' size; the ladder's rungs at or below it are scored. The default reaches the top
    rung of the platform's default ladder (1080p): smaller clips would never score it."""
    rungs: list[int] = msgspec.field(default_factory=lambda: [1080, 720, 480, 360])
    """The heights of the rungs the target must make (the platform's `ladder`); each one at or below the
    clips' height that has no rendition is a failed `rungs_missing` check naming it."""
    ready_within_s: float = 240
    """How long a clip may take to be processed."""
    ffmpeg: str = ""
    """An ffmpeg with libvmaf. Empty: the one the imageio-ffmpeg wheel ships."""
    threads: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.seconds <= 30:
            raise ValueError(f"expected seconds from 1 to 30, found {self.seconds:g}")
        if not self.clips:
            raise ValueError("expected at least one clip")
        if not re.fullmatch(r"[1-9][0-9]*x[1-9][0-9]*", self.size):
            raise ValueError(f"expected a size such as 1920x1080, found {self.size!r}")


class Score(msgspec.Struct, kw_only=True):
    clip: str
    rung: str
    width: int
    height: int
    vmaf_mean: float
    vmaf_p5: float
    frames: int
    kbps: float


class NoVmaf(Exception):
    """No ffmpeg with libvmaf here; the message says what was looked for."""


def vmaf_ffmpeg(configured: str) -> str:
    if configured:
        found = shutil.which(configured) or (configured if Path(configured).exists() else None)
        if not found:
            raise NoVmaf(f"the configured ffmpeg {configured!r} does not exist")
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise NoVmaf(f"no ffmpeg with libvmaf: install imageio-ffmpeg, or set `ffmpeg` ({exc})") from None


def score_command(
    ffmpeg: str, rendition: Path, source: Path, width: int, height: int, log: Path, threads: int
) -> list[str]:
    """libvmaf on the rendition against the source scaled to its size (bicubic, as a player would)."""
    graph = (
        f"[0:v]setpts=PTS-STARTPTS,setsar=1[dist];"
        f"[1:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS,setsar=1[ref];"
        f"[dist][ref]libvmaf=log_fmt=json:log_path={log}:n_threads={threads}"
    )
    return [ffmpeg, "-v", "error", "-i", str(rendition), "-i", str(source), "-lavfi", graph, "-f", "null", "-"]


def frame_scores(log: Path, exit_code: int | None, tail: str) -> list[float]:
    """Each frame's VMAF from the score command's log."""
    if exit_code != 0 or not log.exists():
        raise NoVmaf(f"libvmaf did not score the rendition: {tail}")
    frames = [float(f["metrics"]["vmaf"]) for f in json.loads(log.read_text())["frames"]]
    if not frames:
        raise NoVmaf("libvmaf scored no frame")
    return frames


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile, interpolated between the closest ranks."""
    ordered = sorted(values)
    at = (len(ordered) - 1) * share
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def summarize(scores: list[Score]) -> list[Check]:
    """Per rung: mean VMAF over clips, the worst 5th percentile, mean bitrate; then the ladder's."""
    checks: list[Check] = []
    rungs: dict[str, list[Score]] = {}
    for score in scores:
        rungs.setdefault(score.rung, []).append(score)
    means, rates = [], []
    for rung, rung_scores in sorted(rungs.items(), key=lambda item: -item[1][0].height):
        mean = round(statistics.fmean(s.vmaf_mean for s in rung_scores), 2)
        kbps = round(statistics.fmean(s.kbps for s in rung_scores), 1)
        means.append(mean)
        rates.append(kbps)
        checks += [
            Check(name=f"{rung}.vmaf_mean", value=mean, unit="VMAF"),
            Check(name=f"{rung}.vmaf_p5", value=round(min(s.vmaf_p5 for s in rung_scores), 2), unit="VMAF"),
            Check(name=f"{rung}.kbps", value=kbps, unit="kbit/s"),
        ]
    checks += [
        Check(name="vmaf_mean", value=min(means), unit="VMAF", note="the worst rung's mean over the clips"),
        Check(name="kbps", value=round(sum(rates), 1), unit="kbit/s", note="every rung's mean bitrate, added up"),
    ]
    return checks


def missing_rungs(scores: list[Score], config: VmafConfig) -> Check:
    """The expected rungs (at or below the clips' height) that some clip has no rendition of: a candidate
    that drops a rung has nothing there to score, and must not pass for it."""
    height = int(config.size.split("x")[1])
    expected = [f"{h}p" for h in config.rungs if h <= height]
    made: dict[str, set[str]] = {}
    for score in scores:
        made.setdefault(score.clip, set()).add(score.rung)
    missing = sorted(
        {rung for clip in config.clips for rung in expected if rung not in made.get(clip.name, set())},
        key=lambda rung: -int(rung.rstrip("p")),
    )
    return Check(
        name="rungs_missing",
        value=float(len(missing)),
        unit="rungs",
        op="==",
        threshold=0,
        verdict="fail" if missing else "pass",
        note=f"no rendition at {', '.join(missing)} (expected {', '.join(expected)})" if missing else "",
    )


class VmafGate:
    name = "vmaf"
    needs = frozenset({"url"})
    Config = VmafConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: VmafConfig = ctx.config
        if not ctx.api_key:
            return unmeasured("no key of a tenant to upload the reference clips as")
        try:
            ffmpeg = vmaf_ffmpeg(config.ffmpeg)
            await self._has_libvmaf(ffmpeg)
            sources = [await self._make(ffmpeg, config, clip, ctx.workdir) for clip in config.clips]
        except NoVmaf as exc:
            return unmeasured(str(exc))
        headers = {"Authorization": f"Bearer {ctx.api_key}"}
        scores: list[Score] = []
        async with httpx.AsyncClient(base_url=ctx.target, headers=headers, timeout=60) as client:
            for clip, source in zip(config.clips, sources, strict=True):
                video = await self._upload_and_wait(client, source, config)
                if isinstance(video, str):
                    return unmeasured(f"{clip.name}: {video}")
                for rendition in video.get("renditions") or []:
                    try:
                        scores.append(await self._score(client, ffmpeg, config, clip, source, video, rendition, ctx))
                    except NoVmaf as exc:
                        return unmeasured(f"{clip.name} {rendition['name']}: {exc}")
        if not scores:
            return unmeasured("no rendition was produced to score")
        report = ctx.workdir / "vmaf.json"
        report.write_bytes(msgspec.json.encode(scores))
        return measured(
            checks=[missing_rungs(scores, config), *summarize(scores)],
            artifacts=[str(report)],
        )

    async def _has_libvmaf(self, ffmpeg: str) -> None:
        try:
            run = await run_tool([ffmpeg, "-hide_banner", "-filters"], kill_after=30)
        except ToolNotFound:
            raise NoVmaf(f"{ffmpeg} does not exist") from None
        if b" libvmaf " not in run.stdout:
            raise NoVmaf(f"{ffmpeg} has no libvmaf filter")

    async def _make(self, ffmpeg: str, config: VmafConfig, clip: Clip, workdir: Path) -> Path:
        """The reference clip at high quality (CRF 16: the score is against this file, so it need not be
        lossless, and a lossless one of the grain clip would be 60 MB), tagged so the platform never
        reuses old renditions."""
        path = workdir / f"{clip.name}.mp4"
        graph = clip.source.replace("{size}", config.size)
        run = await run_tool(
            [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-t", f"{config.seconds:g}", "-metadata",
             f"comment={uuid.uuid4().hex}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt",
             "yuv420p", str(path)],
            kill_after=120,
        )  # fmt: skip
        if run.exit_code != 0 or run.timed_out:
            raise NoVmaf(f"could not make the reference clip {clip.name}: {run.tail()}")
        return path

    async def _upload_and_wait(
        self, client: httpx.AsyncClient, source: Path, config: VmafConfig
    ) -> dict[str, Any] | str:
        with source.open("rb") as fh:
            answer = await client.post("/v1/videos", files={"file": (source.name, fh, "video/mp4")})
        if answer.status_code != 202:
            return f"the upload was refused ({answer.status_code}): {answer.text[:200]}"
        url = answer.json()["url"]
        deadline = time.monotonic() + config.ready_within_s
        while time.monotonic() < deadline:
            video: dict[str, Any] = (await client.get(url)).json()
            if video.get("status") == "ready":
                return video
            if video.get("status") == "failed":
                return f"processing failed: {video.get('failure_reason')}"
            await asyncio.sleep(0.5)
        return f"not ready within {config.ready_within_s:g} s"

    async def _score(
        self,
        client: httpx.AsyncClient,
        ffmpeg: str,
        config: VmafConfig,
        clip: Clip,
        source: Path,
        video: dict[str, Any],
        rendition: dict[str, Any],
        ctx: GateContext,
    ) -> Score:
        name, width, height = str(rendition["name"]), int(rendition["width"]), int(rendition["height"])
        path = ctx.workdir / f"{clip.name}-{name}.mp4"
        await self._fetch(client, ffmpeg, video, rendition, path)
        log = ctx.workdir / f"{clip.name}-{name}.vmaf.json"
        run = await run_tool(score_command(ffmpeg, path, source, width, height, log, config.threads), kill_after=300)
        frames = frame_scores(log, run.exit_code, run.tail())
        duration = float(video.get("duration_s") or config.seconds)
        return Score(
            clip=clip.name,
            rung=name,
            width=width,
            height=height,
            vmaf_mean=round(statistics.fmean(frames), 3),
            vmaf_p5=round(percentile(frames, 0.05), 3),
            frames=len(frames),
            kbps=round(int(rendition["bytes"]) * 8 / 1000 / duration, 1),
        )

    async def _fetch(
        self, client: httpx.AsyncClient, ffmpeg: str, video: dict[str, Any], rendition: dict[str, Any], path: Path
    ) -> None:
        """The rendition as an MP4 file: its download, or, from a platform that writes HLS only, its
        variant copied out of the signed HLS stream (the packets a player gets, unchanged)."""
        if rendition.get("url"):
            async with client.stream("GET", rendition["url"]) as download:
                download.raise_for_status()
                with path.open("wb") as out:
                    async for chunk in download.aiter_bytes():
                        out.write(chunk)
            return
        playback = (await client.get(video["playback_url"])).raise_for_status().json()
        if not playback.get("hls_url"):
            raise NoVmaf("the rendition has neither an MP4 download nor an HLS stream")
        variant = client.base_url.join(f"{playback['hls_url'].rsplit('/', 1)[0]}/{rendition['name']}.m3u8")
        run = await run_tool([ffmpeg, "-v", "error", "-y", "-i", str(variant), "-c", "copy", str(path)], kill_after=120)
        if run.exit_code != 0 or run.timed_out:
            raise NoVmaf(f"could not read the HLS variant: {run.tail()}")


@hookimpl
def register_gates(register: Any) -> None:
    register(VmafGate)
