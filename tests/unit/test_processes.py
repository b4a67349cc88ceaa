"""Several API processes as one program: they die with the parent, and one that dies alone comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import wait_for

CHILD = """
import os, socket, sys, time
from pathlib import Path
from reelgate.platform.processes import run_forked

folder = Path(sys.argv[1])
listening = socket.create_server(("127.0.0.1", 0))

def serve(sock):
    (folder / str(os.getpid())).write_text(str(sock.getsockname()[1]))
    while True:
        time.sleep(0.1)

run_forked(2, listening, serve)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0: ask /proc whether it is one.
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}").exists() else "X"
    return state not in ("Z", "X")


def _start(folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(folder)])


def test_children_share_one_socket_and_die_with_the_parent(tmp_path: Path) -> None:
    parent = _start(tmp_path)
    try:
        pids = wait_for(
            lambda: [int(p.name) for p in tmp_path.iterdir()] if len(list(tmp_path.iterdir())) == 2 else None,
            10,
            "two children",
        )
        assert len({p.read_text() for p in tmp_path.iterdir()}) == 1  # the same port
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        wait_for(lambda: not any(_alive(pid) for pid in pids) or None, 5, "the children to die with the parent")
    finally:
        parent.kill()


def test_a_child_that_dies_alone_is_started_again_and_sigterm_stops_all(tmp_path: Path) -> None:
    parent = _start(tmp_path)
    try:
        first = wait_for(
            lambda: [int(p.name) for p in tmp_path.iterdir()] if len(list(tmp_path.iterdir())) == 2 else None,
            10,
            "two children",
        )
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(list(tmp_path.iterdir())) == 3 or None, 10, "a third child")
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(10) == 0
        time.sleep(0.2)
        assert not any(_alive(int(p.name)) for p in tmp_path.iterdir())
    finally:
        parent.kill()
