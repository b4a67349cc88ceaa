"""The demo's and the tests' bad candidates are shipped patches: they must keep applying to the code as it
changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATCHES = sorted((ROOT / "scripts" / "demo-patches").glob("*.patch"))


def git_apply_check(patch: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "apply", "--check", *extra, str(patch)], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("patch", PATCHES, ids=[p.name for p in PATCHES])
def test_shipped_patch_applies_to_this_tree(patch: Path) -> None:
    forward = git_apply_check(patch)
    # In a bad candidate itself its patch is already applied: then it reverses cleanly, and the other
    # patches, written against the pristine tree, need not apply on top of it.
    already = git_apply_check(patch, "--reverse")
    if already.returncode != 0 and any(git_apply_check(p, "--reverse").returncode == 0 for p in PATCHES):
        pytest.skip(f"this tree is a bad candidate built with another patch; {patch.name} is for the pristine tree")
    assert forward.returncode == 0 or already.returncode == 0, (
        f"{patch.name} no longer applies; regenerate it: {forward.stderr}"
    )
    # It changes the platform itself (so the candidate really is slower), not a test or a doc.
    numstat = subprocess.run(["git", "apply", "--numstat", str(patch)], cwd=ROOT, capture_output=True, text=True)
    changed = [line.split("\t") for line in numstat.stdout.splitlines()]
    assert changed and all(path.startswith("platform/") and (ROOT / path).is_file() for _, _, path in changed)
    assert sum(int(added) for added, _, _ in changed) > 0
