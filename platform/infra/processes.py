"""`reelgate serve` with several API processes on one port, as one supervised program.

The parent binds the listening socket and forks the processes, which all accept on it (the kernel
hands each connection to one of them). Each child dies with the parent (`PR_SET_PDEATHSIG`), so a
`kill -9` of the program's PID, as the chaos experiment does, frees the port at once and supervisord
starts it again, instead of leaving orphans that hold the port. A child that dies alone is started
again; SIGTERM (supervisord's stop, sent to the whole group) lets every child finish its requests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable

from reelgate.platform.pipeline.transcode import die_with_parent


def run_forked(count: int, listening: socket.socket, serve: Callable[[socket.socket], None]) -> None:
    stopping = False
    # The handler in place before ours (coverage's, under the tests): a child gets it back, and ends
    # through sys.exit, so whatever saves at exit (coverage's data) does.
    original = signal.getsignal(signal.SIGTERM)

    parent = os.getpid()

    def start() -> int:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's own run is measured by the integration tests
            die_with_parent()
            if os.getppid() != parent:
                # The parent died between the fork and the line above, so no signal will come: a child
                # started in that window (a kill of the children, then the parent) would serve on alone.
                os._exit(0)
            signal.signal(signal.SIGTERM, original)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            serve(listening)
            sys.exit(0)
        return pid

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    children = {start() for _ in range(count)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait
            continue
        children.discard(pid)
        if not stopping:
            print(f"API process {pid} ended ({status}); starting another", file=sys.stderr, flush=True)
            children.add(start())
