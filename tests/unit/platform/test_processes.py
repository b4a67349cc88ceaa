"""Several API processes as one program: they die with the parent, and one that dies alone comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.waiting import wait_for

CHILD = """
import os, socket, sys, time
from pathlib import Path
from reelgate.platform.infra.processes import run_forked

folder = Path(sys.argv[1])
listening = socket.create_server(("127.0.0.1", 0))

def serve(sock):
    (folder / str(os.getpid())).write_text(str(sock.getsockname()[1]))
    while True:
        time.sleep(0.1)

run_forked(2, listening, serve)
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _children(folder: Path, count: int) -> list[int]:
    """The pids of the first `count` children, once that many have written their file."""
    return wait_for(
        lambda: [int(p.name) for p in folder.iterdir()] if len(list(folder.iterdir())) == count else None,
        10,
        f"{count} children",
    )


def _start(folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(folder)])


def test_children_share_one_socket_and_die_with_the_parent(tmp_path: Path) -> None:
    parent = _start(tmp_path)
    try:
        pids = _children(tmp_path, 2)
        assert len({p.read_text() for p in tmp_path.iterdir()}) == 1  # the same port
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        wait_for(lambda: not any(_alive(pid) for pid in pids) or None, 5, "the children to die with the parent")
    finally:
        parent.kill()


def test_a_child_that_dies_alone_is_started_again_and_sigterm_stops_all(tmp_path: Path) -> None:
    parent = _start(tmp_path)
    try:
        os.kill(_children(tmp_path, 2)[0], signal.SIGKILL)
        _children(tmp_path, 3)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(10) == 0  # the parent reaps every child before it ends
        assert not any(_alive(int(p.name)) for p in tmp_path.iterdir())
    finally:
        parent.kill()
