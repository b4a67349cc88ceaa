"""Bad candidates for the tests and the benchmarks: a temporary branch of HEAD with a shipped patch committed."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATCHES = ROOT / "scripts" / "demo-patches"


@contextmanager
def patched_branch(patch: Path, name: str) -> Iterator[str]:
    """A temporary branch of HEAD with `patch` committed, built like any other candidate; deleted after."""
    branch = f"reelgate-test-{name}-{os.getpid()}-{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "-b", branch, str(tree), "HEAD"], check=True)
        try:
            subprocess.run(["git", "apply", str(patch)], cwd=tree, check=True)
            subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
            subprocess.run(
                ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", name],
                cwd=tree,
                check=True,
            )
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    try:
        yield branch
    finally:
        subprocess.run(["git", "-C", str(ROOT), "branch", "-D", branch], check=False, capture_output=True)
