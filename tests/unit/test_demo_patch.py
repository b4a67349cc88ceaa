"""The demo's blocked candidate is a shipped patch: it must keep applying to the code as it changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slow_api_patch_applies_to_this_tree() -> None:
    patch = ROOT / "scripts" / "demo-patches" / "slow-api.patch"
    result = subprocess.run(["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{patch.name} no longer applies; regenerate it: {result.stderr}"
    assert "asyncio.sleep(0.3)" in patch.read_text()
