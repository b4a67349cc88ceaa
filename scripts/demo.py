"""The main job: a whole demo release on the local stack, with the shipped default policy.

1. Start the stack (idempotent) and put a video on the platform, so the read path has data.
2. Release this checkout's HEAD: it is built, started as the idle color, gated, and promoted.
3. Release two candidates that must be blocked, each a shipped patch committed to a temporary branch:
   `scripts/demo-patches/slow-api.patch` (the API gets slow; `read-latency` blocks it) and
   `scripts/demo-patches/lower-quality.patch` (x264 at CRF 32 instead of 23: smaller files, a worse
   picture; `video-quality` blocks it). The live color serves throughout (the router is polled).
4. Back the stack up (backups are on in the demo: WAL archived continuously, a base backup, media and secrets
   snapshots) and verify the backups.

Prints each decision and the HTML report's path. Exits non-zero if any release ends otherwise.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from reelgate.platform.settings import get_settings
from reelgate.platform.stack.paths import pg_data_dir

ROOT = Path(__file__).resolve().parents[1]
REELGATE = str(Path(sys.executable).parent / "reelgate")
PATCHES = ROOT / "scripts" / "demo-patches"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"demo: `{' '.join(args)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def release(candidate: str) -> tuple[int, str, str, dict[str, str]]:
    """Run a release, streaming its progress; return (exit code, report path, decision line, verdicts)."""
    print(f"\n=== reelgate release start --candidate {candidate}", flush=True)
    proc = subprocess.Popen(
        [REELGATE, "release", "start", "--candidate", candidate],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    report = decision = ""
    verdicts: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        gate = re.search(r"gate (\S+): (pass|warn|fail|error|skipped):", line)
        if gate:
            verdicts[gate.group(1)] = gate.group(2)
        found = re.match(r"report: (\S+)", line)
        report = found.group(1) if found else report
        decision = line.strip() if line.startswith(("PROMOTE", "BLOCK")) else decision
    return proc.wait(), report, decision, verdicts


class RouterWatch(threading.Thread):
    """Polls the router's health while a release runs: the live color must keep serving."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.ok, self.failed, self.stop = url, 0, 0, threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    good = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    good = False
                self.ok += good
                self.failed += not good
                time.sleep(0.05)


def seed_video(router: str) -> Path:
    """A tenant with one ready video; its key goes to var/demo-key for signing in to the pages."""
    key = run(REELGATE, "tenant", "create", f"demo-{int(time.time())}").stdout.strip().splitlines()[-1]
    key_file = ROOT / "var" / "demo-key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo.mp4"
        run(
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(clip),
        )
        with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            try:
                answer = http.post("/v1/videos", files={"file": ("demo.mp4", clip.read_bytes(), "video/mp4")})
                if answer.status_code != 202:
                    sys.exit(f"demo: the upload was refused ({answer.status_code}): {answer.text[:300]}")
                video = answer.json()
                deadline = time.monotonic() + 60
                while video.get("status") not in ("ready", "failed") and time.monotonic() < deadline:
                    time.sleep(0.3)
                    video = http.get(video["url"]).json()
            except httpx.HTTPError as exc:
                sys.exit(f"demo: the platform at {router} did not answer: {exc}")
    print(f"seeded video {video['id']}: {video['status']}")
    return key_file


def patched_branch(patch: str, message: str) -> str:
    """A temporary branch: HEAD with the shipped patch `patch` committed."""
    branch = f"reelgate-demo-{Path(patch).stem}-{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        run("git", "worktree", "add", "-q", "-b", branch, str(tree), "HEAD")
        try:
            subprocess.run(["git", "apply", str(PATCHES / patch)], cwd=tree, check=True)
            subprocess.run(["git", "add", "-A"], cwd=tree, check=True)  # the patch adds a module
            subprocess.run(
                [
                    "git",
                    "-c",
                    "user.name=reelgate demo",
                    "-c",
                    "user.email=demo@localhost",
                    "commit",
                    "-qm",
                    f"demo: {message}",
                ],
                cwd=tree,
                check=True,
            )
        finally:
            run("git", "worktree", "remove", "--force", str(tree), check=False)
    return branch


def main() -> None:
    settings = get_settings()
    if not settings.backup_dir:  # on in the demo; beside the database's folder, where PostgreSQL may write
        os.environ["REELGATE_BACKUP_DIR"] = str(pg_data_dir(settings).parent / "backups")
    print(run(REELGATE, "stack", "up").stdout, end="")
    router = f"http://127.0.0.1:{settings.port('router')}"
    key_file = seed_video(router)

    # The router is read all through the releases: HEAD's (the chaos gate kills its candidate's worker
    # and API meanwhile, and the switch happens) and the two bad ones.
    watch = RouterWatch(f"{router}/health/live")
    watch.start()
    try:
        good_code, good_report, _, good_gates = release("HEAD")
        during_good = (watch.ok, watch.failed)
        blocked = {
            "slow patch": blocked_release("slow-api.patch", "a slow API the gates must block", "read-latency"),
            "low-quality patch": blocked_release(
                "lower-quality.patch", "smaller files, a worse picture", "video-quality"
            ),
        }
    finally:
        watch.stop.set()
        watch.join()
    print("\n=== demo summary")
    good = "promoted" if good_code == 0 else f"NOT promoted (exit {good_code})"
    print(f"HEAD:              {good}; report {good_report}")
    for name, (line, _) in blocked.items():
        print(f"{name + ':':<18} {line}")
    ok, failed = during_good
    chaos = good_gates.get("chaos", "did not run")
    print(
        f"live traffic during HEAD's release (chaos gate {chaos} on the candidate): {ok} answered, {failed} failed"
        f" (availability {100 * ok / max(1, ok + failed):.3f} %)"
    )
    print(f"live traffic during the blocked releases: {watch.ok - ok} answered, {watch.failed - failed} failed")
    axe = good_gates.get("accessibility", "did not run")
    print(f"accessibility:     {axe} on HEAD's pages (axe in headless Chromium; warnings are 'needs review')")
    print(f"video quality:     {good_gates.get('video-quality', 'did not run')} on HEAD (VMAF against live)")
    print(f"web pages:         {router}/sign-in with the API key in {key_file.relative_to(ROOT)}")
    backed = run(REELGATE, "backup", "run", check=False)
    verified = run(REELGATE, "backup", "verify", check=False)
    print(f"backups:           {(backed.stdout or backed.stderr).strip()}; verify: "
          f"{'; '.join((verified.stdout or verified.stderr).split(chr(10))).strip()}")  # fmt: skip
    as_expected = all(went for _, went in blocked.values())
    backups_ok = backed.returncode == 0 and verified.returncode == 0
    if good_code != 0 or not as_expected or watch.failed or axe not in ("pass", "warn") or not backups_ok:
        sys.exit(1)


def blocked_release(patch: str, message: str, gate: str) -> tuple[str, bool]:
    """Release HEAD plus `patch`; it must be blocked, and by `gate` (a candidate that merely failed to
    deploy proves nothing). Returns the summary line and whether it went so."""
    branch = patched_branch(patch, message)
    try:
        code, report, decision, gates = release(branch)
    finally:
        run("git", "branch", "-D", branch, check=False)
    failing = ", ".join(f"{g} {verdict}" for g, verdict in gates.items() if verdict in ("fail", "error"))
    if code == 1 and gates.get(gate) == "fail":
        return f"blocked ({failing}); report {report}", True
    return f"NOT blocked by {gate} as expected: {decision}; report {report}", False


if __name__ == "__main__":
    main()
