"""`reelgate gate serve` before the stack is up: one line that says what is wrong, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_serving_without_a_database_says_so_in_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\ngates:\n  - {id: c, uses: coverage, with: {coverage_json: x.json}}\n")
    env = {**os.environ, "REELGATE_HOME": str(tmp_path), "REELGATE_PORT_BASE": "9990"}  # nothing listens there
    done = subprocess.run(
        [str(Path(sys.executable).parent / "reelgate"), "gate", "serve", "--policy", str(policy)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot reach PostgreSQL" in done.stderr and "Traceback" not in done.stderr
