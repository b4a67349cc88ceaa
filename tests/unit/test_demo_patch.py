"""The demo's blocked candidate is a shipped patch: it must keep applying to the code as it changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATCH = ROOT / "scripts" / "demo-patches" / "slow-api.patch"


def git_apply_check(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "apply", "--check", *extra, str(PATCH)], cwd=ROOT, capture_output=True, text=True)


def test_slow_api_patch_applies_to_this_tree() -> None:
    forward = git_apply_check()
    # In the demo's slow candidate itself the patch is already applied: then it reverses cleanly.
    already = git_apply_check("--reverse")
    assert forward.returncode == 0 or already.returncode == 0, (
        f"{PATCH.name} no longer applies; regenerate it: {forward.stderr}"
    )
    # It changes the platform itself (so the candidate really is slower), not a test or a doc.
    numstat = subprocess.run(["git", "apply", "--numstat", str(PATCH)], cwd=ROOT, capture_output=True, text=True)
    changed = [line.split("\t") for line in numstat.stdout.splitlines()]
    assert changed and all(path.startswith("platform/") and (ROOT / path).is_file() for _, _, path in changed)
    assert sum(int(added) for added, _, _ in changed) > 0
