"""Running a backup tool (pgBackRest, restic): its output, or a StackError that says what to do."""

from __future__ import annotations

import shutil
import subprocess

from reelgate.platform.stack.paths import StackError


def run_tool(command: list[str], env: dict[str, str], timeout: float, what: str, tool: str) -> str:
    """`command` (which runs `tool`, a Debian package of the same name); `what` names it in errors."""
    if shutil.which(tool) is None:
        raise StackError(f"{tool} is not installed (apt-get install {tool}; scripts/bootstrap does)")
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise StackError(f"{what} took longer than {timeout:g} s") from None
    if done.returncode != 0:
        words = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise StackError(f"{what} failed ({done.returncode}): {' | '.join(words)}")
    return done.stdout
