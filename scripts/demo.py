"""The main job: a whole demo release on the local stack, with the shipped default policy.

1. Start the stack (idempotent) and put a video on the platform, so the read path has data.
2. Release this checkout's HEAD: it is built, started as the idle color, gated, and promoted.
3. Release a candidate that must be blocked: the shipped patch `scripts/demo-patches/slow-api.patch`
   (it makes the API slow) committed to a temporary branch. The gates block it, and the live color
   serves throughout (checked by polling the router while it runs).

Prints each decision and the HTML report's path. Exits non-zero if either release ends otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from reelgate.platform.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
REELGATE = str(Path(sys.executable).parent / "reelgate")
PATCH = ROOT / "scripts" / "demo-patches" / "slow-api.patch"


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


def slow_branch() -> str:
    branch = f"reelgate-demo-slow-{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        run("git", "worktree", "add", "-q", "-b", branch, str(tree), "HEAD")
        try:
            subprocess.run(["git", "apply", str(PATCH)], cwd=tree, check=True)
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
                    "demo: a slow API the gates must block",
                ],
                cwd=tree,
                check=True,
            )
        finally:
            run("git", "worktree", "remove", "--force", str(tree), check=False)
    return branch


def main() -> None:
    settings = get_settings()
    print(run(REELGATE, "stack", "up").stdout, end="")
    router = f"http://127.0.0.1:{settings.port('router')}"
    key_file = seed_video(router)

    # The router is read all through both releases: HEAD's (the chaos gate kills its candidate's worker
    # and API meanwhile, and the switch happens) and the slow patch's.
    watch = RouterWatch(f"{router}/health/live")
    watch.start()
    try:
        good_code, good_report, _, good_gates = release("HEAD")
        during_good = (watch.ok, watch.failed)
        branch = slow_branch()
        try:
            bad_code, bad_report, bad_decision, bad_gates = release(branch)
        finally:
            run("git", "branch", "-D", branch, check=False)
    finally:
        watch.stop.set()
        watch.join()
    print("\n=== demo summary")
    good = "promoted" if good_code == 0 else f"NOT promoted (exit {good_code})"
    # Blocked, and the load gate caught the slowness: a candidate that merely failed to deploy proves nothing.
    # (Its untested change also fails the diff coverage of `unit-tests`.)
    by_gate = bad_gates.get("read-latency") == "fail"
    failing = ", ".join(f"{gate} {verdict}" for gate, verdict in bad_gates.items() if verdict in ("fail", "error"))
    bad = f"blocked ({failing})" if bad_code == 1 and by_gate else f"NOT blocked as expected: {bad_decision}"
    print(f"HEAD:          {good}; report {good_report}")
    print(f"slow patch:    {bad}; report {bad_report}")
    ok, failed = during_good
    chaos = good_gates.get("chaos", "did not run")
    print(
        f"live traffic during HEAD's release (chaos gate {chaos} on the candidate): {ok} answered, {failed} failed"
        f" (availability {100 * ok / max(1, ok + failed):.3f} %)"
    )
    ok, failed = watch.ok - ok, watch.failed - failed
    print(f"live traffic during the blocked release: {ok} answered, {failed} failed")
    axe = good_gates.get("accessibility", "did not run")
    print(f"accessibility: {axe} on HEAD's pages (axe in headless Chromium; warnings are 'needs review')")
    print(f"web pages:     {router}/sign-in with the API key in {key_file.relative_to(ROOT)}")
    if good_code != 0 or bad_code != 1 or not by_gate or watch.failed or axe not in ("pass", "warn"):
        sys.exit(1)


if __name__ == "__main__":
    main()
